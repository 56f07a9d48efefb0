"""Keep an index in step with its folders while running: every burst of file changes (debounced) triggers one
incremental ``build_index``. File events come from watchfiles (Rust ``notify``: inotify on Linux)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from rag.embedding import Embedder
from rag.errors import RagError
from rag.index.build import BuildReport, build_index
from rag.settings import Settings
from rag.types import INDEXED_SUFFIXES

logger = logging.getLogger(__name__)


class CorpusFilter(watchfiles.DefaultFilter):
    """Only the files an index reads (text, documents, JSONL corpora), not hidden ones below the watched roots."""

    def __init__(self, roots: list[Path]) -> None:
        super().__init__()
        self.roots = [Path(r).resolve() for r in roots]

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        name = Path(path)
        if name.suffix.lower() not in {*INDEXED_SUFFIXES, ".jsonl"} or not super().__call__(change, path):
            return False
        below = next((name.relative_to(r) for r in self.roots if name.is_relative_to(r)), name)
        return not any(part.startswith(".") for part in below.parts)


def watch_and_sync(
    paths: list[Path],
    settings: Settings,
    *,
    index_dir: Path | None = None,
    on_update: Callable[[BuildReport], None],
    on_error: Callable[[RagError], None],
    debounce_ms: int = 1000,
    stop: threading.Event | None = None,
) -> None:
    """Sync once, then after every debounced burst of changes, until ``stop`` is set (or Ctrl-C). The model loads
    once; an error (say, a folder emptied) is reported and watching goes on."""
    embedder = Embedder.from_settings(settings)

    def sync() -> None:
        try:
            on_update(build_index(paths, settings, index_dir=index_dir, embedder=embedder))
        except RagError as exc:
            on_error(exc)

    sync()
    roots = [Path(p) for p in paths if Path(p).exists()]
    for changes in watchfiles.watch(
        *roots, watch_filter=CorpusFilter(roots), debounce=debounce_ms, stop_event=stop, raise_interrupt=False
    ):
        logger.info("%d file changes", len(changes))
        sync()
