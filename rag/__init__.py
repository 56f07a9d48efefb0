"""rag: semantic search over a folder of documents, returning passages with exact, checkable citations."""

from __future__ import annotations

__version__ = "0.1.0"
