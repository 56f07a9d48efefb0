"""rag: semantic search over a folder of documents, with citations you can check.

The public API, importable from ``rag`` itself. Names load on first use, so ``import rag`` stays cheap (no model,
FAISS or torch until they are needed) and never imports the HTTP service.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "Settings": "rag.settings",
    "RagError": "rag.errors",
    "InvalidQueryError": "rag.errors",
    "InvalidInputError": "rag.errors",
    "IndexNotFoundError": "rag.errors",
    "IndexMismatchError": "rag.errors",
    "IndexCorruptError": "rag.errors",
    "IndexLockedError": "rag.errors",
    "IndexWriteError": "rag.errors",
    "NoDocumentsError": "rag.errors",
    "ModelLoadError": "rag.errors",
    "Document": "rag.types",
    "SkippedFile": "rag.types",
    "Chunk": "rag.types",
    "Span": "rag.types",
    "Citation": "rag.types",
    "Hit": "rag.types",
    "SearchFilters": "rag.types",
    "load_corpus": "rag.ingest.loading",
    "LoadLimits": "rag.ingest.reading",
    "Embedder": "rag.embedding",
    "build_index": "rag.index.build",
    "BuildReport": "rag.index.build",
    "open_index": "rag.index.reader",
    "Searcher": "rag.search.searcher",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
