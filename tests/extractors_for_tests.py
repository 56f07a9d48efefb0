"""Extraction functions for the worker tests: module-level, so that the worker's child process can import them by
name (``tests/`` is on its path as on the parent's)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rag.ingest.reading import LoadLimits
from rag.types import Document, SkippedFile


def never_ends(path: Path, data: bytes, limits: LoadLimits) -> list[Document | SkippedFile]:
    """A parser caught in a loop."""
    time.sleep(600)
    return []


def crashes(path: Path, data: bytes, limits: LoadLimits) -> list[Document | SkippedFile]:
    """A parser that takes its process down (as a segmentation fault in a C library would)."""
    os._exit(7)


def echoes(path: Path, data: bytes, limits: LoadLimits) -> list[Document | SkippedFile]:
    """A parser that works: the bytes as text."""
    text = data.decode()
    return [Document(doc_id="d", source=str(path), text=text, encoding="utf-8", sha256="s")]
