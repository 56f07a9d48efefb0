"""Hot reload: the service follows the index on disk. A thread polls the manifest; when a new build appears it
opens it (reusing the loaded models) and swaps the searcher. Requests already running keep the searcher they
started with, so none fails and none mixes two builds; the old one is closed when the last of them lets go."""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from rag.errors import RagError
from rag.index import open_index, read_manifest
from rag.search import Searcher

logger = logging.getLogger(__name__)


class IndexReloader:
    """Polls ``manifest.json`` of the served index every ``interval`` seconds and swaps ``app.state.searcher``."""

    def __init__(self, app: FastAPI, interval: float) -> None:
        self.app = app
        self.interval = interval
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-reloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the service must outlive any reload problem
                logger.exception("index reload failed")

    def check(self) -> bool:
        """Load a new build if the manifest names one; True if the searcher was swapped."""
        current: Searcher = self.app.state.searcher
        directory = current.index.directory
        try:
            manifest = read_manifest(directory)
            if manifest.build_id == current.index.manifest.build_id:
                return False
            index = open_index(directory, current.settings)
        except RagError as exc:
            if str(exc) != self.last_error:
                logger.error("keeping index %s: %s", current.index.manifest.build_id, exc)
            self.last_error = str(exc)
            return False
        self.app.state.searcher = Searcher(index, current.embedder, current.settings, current.reranker)
        self.last_error = None
        logger.info("now serving index %s (was %s)", index.manifest.build_id, current.index.manifest.build_id)
        return True
