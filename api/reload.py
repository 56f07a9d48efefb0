"""Hot reload: the service follows the index on disk. A thread polls the manifest; when a new build appears it
opens it (reusing the loaded models) and makes it the one new requests get. Requests already running keep the
build they leased, so none fails and none mixes two builds; a replaced build is closed when the last request that
leased it finishes (its files were deleted by the build that replaced it: until it is closed, the disk space and a
file handle stay taken)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rag.errors import RagError
from rag.index.manifest import read_manifest
from rag.index.reader import open_index
from rag.search.searcher import Searcher

logger = logging.getLogger(__name__)


class ServedBuilds:
    """The searcher new requests get, and a count of the requests using each searcher.

    ``lease()`` hands out the current searcher for the length of a request; ``replace()`` makes another one current
    and closes the old one at once if no request holds it, else when the last of them lets go. A searcher given
    with ``owned=False`` is never closed at ``close()`` (whoever opened it closes it)."""

    def __init__(self, searcher: Searcher, *, owned: bool = True) -> None:
        self._lock = threading.Lock()
        self._current = searcher
        self._leases: dict[Searcher, int] = {}
        self._unowned = None if owned else searcher

    @property
    def current(self) -> Searcher:
        return self._current

    @contextmanager
    def lease(self) -> Iterator[Searcher]:
        with self._lock:
            searcher = self._current
            self._leases[searcher] = self._leases.get(searcher, 0) + 1
        try:
            yield searcher
        finally:
            with self._lock:
                self._leases[searcher] -= 1
                retired = self._leases[searcher] == 0 and searcher is not self._current
                if self._leases[searcher] == 0:
                    del self._leases[searcher]
            if retired:
                self._close(searcher)

    def replace(self, searcher: Searcher) -> Searcher:
        """Serve ``searcher`` from now on; the previous one, returned, is closed once no request holds it."""
        with self._lock:
            previous, self._current = self._current, searcher
            retired = previous not in self._leases
        if retired:
            self._close(previous)
        return previous

    def in_use(self) -> int:
        """How many searchers are open: the current one and any replaced one a request still holds."""
        with self._lock:
            return len(self._leases.keys() | {self._current})

    def close(self) -> None:
        """At shutdown: close the current searcher (unless it was handed in unowned)."""
        if self._current is not self._unowned:
            self._close(self._current)

    def _close(self, searcher: Searcher) -> None:
        logger.info("closing index build %s", searcher.index.manifest.build_id)
        searcher.close()


class IndexReloader:
    """Polls ``manifest.json`` of the served index every ``interval`` seconds and swaps the served build."""

    def __init__(self, builds: ServedBuilds, interval: float) -> None:
        self.builds = builds
        self.interval = interval
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._checking = threading.Lock()  # the poller and an upload may both check: one opens the new build
        self._thread = threading.Thread(target=self._run, name="index-reloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the service must outlive any reload problem
                logger.exception("index reload failed")

    def check(self) -> bool:
        """Load a new build if the manifest names one; True if the searcher was swapped. A manifest that names
        the build being served again (after a bad one was replaced by a good one) clears ``last_error``."""
        with self._checking:
            return self._check()

    def _check(self) -> bool:
        current = self.builds.current
        directory = current.index.directory
        try:
            manifest = read_manifest(directory)
            if manifest.build_id == current.index.manifest.build_id:
                self.last_error = None
                return False
            index = open_index(directory, current.settings, previous=current.index)
        except RagError as exc:
            self._failed(exc)
            return False
        try:
            searcher = Searcher(
                index, current.embedder, current.settings, current.reranker, display_root=current.display_root
            )
        except RagError as exc:
            index.close()
            self._failed(exc)
            return False
        self.builds.replace(searcher)
        self.last_error = None
        logger.info("now serving index %s (was %s)", index.manifest.build_id, current.index.manifest.build_id)
        return True

    def _failed(self, exc: RagError) -> None:
        if str(exc) != self.last_error:
            logger.error("keeping index %s: %s", self.builds.current.index.manifest.build_id, exc)
        self.last_error = str(exc)
