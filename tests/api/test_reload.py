"""Hot reload in the real server, over a private copy of the seeds indexed with the stand-in model, which these
tests rebuild and damage: replaced builds are closed (file handles and memory stay flat over many reloads), and
/ready forgets a reload error once the index on disk is whole again; and the lease of a build, in the small."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import SEEDS, RunningServer

from rag.index.build import build_index
from rag.index.reader import open_index
from rag.search.searcher import Searcher


@dataclass
class ServedCopy:
    server: RunningServer
    corpus: Path
    index_dir: Path


@pytest.fixture(scope="module")
def served_copy(
    tmp_path_factory: pytest.TempPathFactory, standin_settings, standin_embedder, standin_env
) -> Iterator[ServedCopy]:
    settings, embedder = standin_settings, standin_embedder
    root = tmp_path_factory.mktemp("served")
    corpus = root / "seeds"
    shutil.copytree(SEEDS, corpus)
    index_dir = root / "index"
    build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    server = RunningServer(index_dir, cwd=root, env=standin_env | {"RAG_RELOAD_INTERVAL": "0.2"})
    yield ServedCopy(server, corpus, index_dir)
    server.stop()


def store_handles(pid: int) -> list[str]:
    """What the process's open file descriptors on segment stores point at (`` (deleted)`` when unlinked)."""
    targets = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        path = Path(target.removesuffix(" (deleted)"))
        if path.name == "store.sqlite" and path.parent.name.startswith("seg-"):
            targets.append(target)
    return targets


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def ready(copy: ServedCopy) -> dict:
    return httpx.get(f"{copy.server.base_url}/ready", timeout=30).json()


class Searching:
    """A client that keeps searching in the background, recording every status."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base_url, headers or {}))

    def _run(self, base_url: str, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            while not self._stop.is_set():
                self.statuses.append(client.post("/search", json={"query": "Victory Day", "top_k": 3}).status_code)

    def __enter__(self) -> Searching:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.mark.slow
@pytest.mark.server
def test_reloads_close_replaced_builds(served_copy: ServedCopy, standin_settings, standin_embedder) -> None:
    """15 incremental rebuilds, one file changed each time, while a client keeps searching: every search
    succeeds, the server ends with one store handle per segment served (none on a deleted file: merged segments
    are let go), and its memory stays flat."""
    settings, embedder = standin_settings, standin_embedder
    pid = served_copy.server.process.pid
    assert len(store_handles(pid)) == 1
    files = sorted(served_copy.corpus.iterdir())
    memory: list[float] = []
    with Searching(served_copy.server.base_url) as searching:
        wait_until(lambda: len(searching.statuses) >= 3)
        for revision in range(15):
            with files[revision % len(files)].open("a", encoding="utf-8") as handle:
                handle.write(f"\nRevision {revision}: the harbour lantern was relit at dawn.\n")
            report = build_index([served_copy.corpus], settings, index_dir=served_copy.index_dir, embedder=embedder)
            assert report.changed and report.updated == 1
            wait_until(lambda build=report.manifest.build_id: ready(served_copy)["index_build_id"] == build)
            handles = store_handles(pid)
            segments = len(report.manifest.segments)
            assert len(handles) <= 2 * segments, handles  # the build served, and one a running search still holds
            memory.append(rss_mib(pid))
        searched = len(searching.statuses)
        wait_until(lambda: len(searching.statuses) >= searched + 3)
    time.sleep(0.5)
    handles = store_handles(pid)
    print(f"store handles after 15 reloads: {handles}; RSS MiB after each reload: {[round(m) for m in memory]}")
    assert len(handles) == segments and not any(h.endswith("(deleted)") for h in handles), handles
    # each update adds a segment; merges keep them to the limit, and segments left all deleted are dropped
    assert 1 < segments <= settings.max_segments
    assert set(searching.statuses) == {200}, f"{len([s for s in searching.statuses if s != 200])} searches failed"
    assert memory[-1] - memory[4] < 40, memory  # after the first reloads have warmed the caches


@pytest.mark.slow
@pytest.mark.server
def test_ready_clears_reload_error_once_the_index_recovers(served_copy: ServedCopy) -> None:
    manifest = served_copy.index_dir / "manifest.json"
    original = manifest.read_bytes()
    served = ready(served_copy)["index_build_id"]
    try:
        manifest.write_text("{ this is not a manifest", encoding="utf-8")
        wait_until(lambda: ready(served_copy)["reload_error"] is not None, 30)
        assert "manifest" in ready(served_copy)["reload_error"]
        assert httpx.post(f"{served_copy.server.base_url}/search", json={"query": "Victory Day"}).status_code == 200
    finally:
        manifest.write_bytes(original)
    wait_until(lambda: ready(served_copy)["reload_error"] is None, 30)
    assert ready(served_copy)["index_build_id"] == served


def test_a_leased_build_survives_its_replacement_and_closes_after(
    standin_seed_index, standin_settings, standin_embedder
) -> None:
    """The lease in the small: a request that holds the old build during a swap finishes on it, and the old build
    is closed when that request lets go, not before."""
    from api.reload import ServedBuilds  # here, so that the server tests above run against an older api too

    seed_index, settings, embedder = standin_seed_index, standin_settings, standin_embedder

    old, new = (Searcher(open_index(seed_index.index_dir, settings), embedder, settings) for _ in range(2))
    builds = ServedBuilds(old)
    with builds.lease() as held:
        assert builds.replace(new) is old and builds.current is new
        assert held is old and held.search("Victory Day", 1)  # still open
        with builds.lease() as later:
            assert later is new
        assert builds.in_use() == 2
    assert builds.in_use() == 1
    with pytest.raises(sqlite3.ProgrammingError):
        old.index.store.documents()
    newest = Searcher(open_index(seed_index.index_dir, settings), embedder, settings)
    builds.replace(newest)  # no request holds ``new``: closed at once
    with pytest.raises(sqlite3.ProgrammingError):
        new.index.store.documents()
    builds.close()
    with pytest.raises(sqlite3.ProgrammingError):
        newest.index.store.documents()
