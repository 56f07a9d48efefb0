"""Builds on Ray (``--engine ray``): on a real two-node Ray cluster on this machine (one embedding actor on each
node, the real model), a build and an incremental update write the index a local build writes: same chunk ids,
documents and spans, vectors within float tolerance, the same answers to the seed questions. Ray's processes and
temporary files are gone afterwards."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.index.build import build_index
from rag.index.reader import Index, open_index
from rag.search.searcher import Searcher
from tests.conftest import DEV_QUESTIONS, SEEDS, run_rag

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[test]' includes it)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [pytest.mark.slow, pytest.mark.model]


def ray_processes(temp_dir: Path) -> list[int]:
    """Pids of processes whose command line names ``temp_dir`` (Ray's raylet, GCS and workers do)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(temp_dir) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture
def two_node_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A head and a second node of one CPU each, in a short temporary folder (Ray's sockets live there)."""
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    monkeypatch.setenv("RAY_TMPDIR", str(temp_dir))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
        deadline = time.monotonic() + 30
        while ray_processes(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = ray_processes(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"Ray processes left running: {left}"


def chunks_of(index: Index) -> list[tuple]:
    ids = index.ids[index.live].tolist()
    stored = index.store.chunks(ids)
    return [(i, stored[i].doc_id, stored[i].start, stored[i].end, stored[i].line_start, stored[i].text) for i in ids]


def vectors_of(index: Index) -> np.ndarray:
    return np.vstack([np.asarray(segment.vectors.vectors)[segment.live()] for segment in index.segments])


def assert_same_index(ray_dir: Path, local_dir: Path, settings, embedder) -> None:
    with (
        Searcher(open_index(ray_dir, settings), embedder, settings) as built_on_ray,
        Searcher(open_index(local_dir, settings), embedder, settings) as built_here,
    ):
        assert chunks_of(built_on_ray.index) == chunks_of(built_here.index)
        on_ray, here = vectors_of(built_on_ray.index), vectors_of(built_here.index)
        assert on_ray.shape == here.shape and np.abs(on_ray - here).max() < 1e-5
        questions = [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text().splitlines() if line.strip()]
        for question in questions:
            got = [(h.citation.doc_id, h.citation.start) for h in built_on_ray.search(question, 3)]
            want = [(h.citation.doc_id, h.citation.start) for h in built_here.search(question, 3)]
            assert got == want, question


def test_a_build_and_an_update_on_a_two_node_ray_cluster_equal_local_builds(
    tmp_path: Path, settings, embedder, two_node_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag import distributed

    joins: list[str] = []
    start_ray = distributed._start_ray
    monkeypatch.setattr(distributed, "_start_ray", lambda r, s: joins.append(s.ray_address) or start_ray(r, s))
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    on_ray = settings.model_copy(update={"engine": "ray", "ray_address": two_node_cluster, "ray_workers": 2})
    report = build_index([corpus], on_ray, index_dir=tmp_path / "ray")
    assert report.embedded == report.chunks > 0 and joins == [two_node_cluster]
    assert ray.is_initialized() is False  # the build left the cluster it joined
    rebuilt = build_index([corpus], on_ray, index_dir=tmp_path / "ray", full=True)
    assert rebuilt.embedded == 0 and len(joins) == 1  # every vector from the embedding cache: Ray never joined
    build_index([corpus], settings, index_dir=tmp_path / "local", embedder=embedder)
    assert_same_index(tmp_path / "ray", tmp_path / "local", settings, embedder)

    edited, removed = sorted(p for p in corpus.rglob("*") if p.is_file())[:2]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\nA closing note on quarterly figures.\n", "utf-8")
    removed.unlink()
    update = build_index([corpus], on_ray, index_dir=tmp_path / "ray")
    assert (update.updated, update.removed, update.embedded > 0) == (1, 1, True)
    build_index([corpus], settings, index_dir=tmp_path / "local", embedder=embedder)
    assert_same_index(tmp_path / "ray", tmp_path / "local", settings, embedder)


def test_an_unreachable_cluster_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    done = run_rag("index", str(SEEDS), "--index", str(tmp_path / "idx"), "--engine", "ray", "--ray-address",
                   "127.0.0.1:9", cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "no Ray cluster answers at 127.0.0.1:9" in done.stderr
    assert not (tmp_path / "idx" / "manifest.json").exists()
