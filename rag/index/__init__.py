"""The index on disk: a manifest (the commit point) naming one build's FAISS vectors, BM25 arrays and SQLite
store; built incrementally under a writer lock, opened with checks."""

from __future__ import annotations

from rag.index.build import BuildReport, build_index
from rag.index.lock import writer_lock
from rag.index.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest, read_manifest
from rag.index.reader import Index, open_index

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "BuildReport",
    "Index",
    "Manifest",
    "build_index",
    "open_index",
    "read_manifest",
    "writer_lock",
]
