"""Ingestion: files to ``Document``s (decoding, safe reading, PDF/HTML/DOCX extraction) and ``Document``s to
``Chunk``s along sentence boundaries, sized in model tokens."""

from __future__ import annotations

from rag.ingest.chunking import Chunker
from rag.ingest.decoding import UndecodableFileError, decode_bytes
from rag.ingest.loading import INDEXED_SUFFIXES, LoadedCorpus, LoadLimits, load_corpus

__all__ = [
    "INDEXED_SUFFIXES",
    "Chunker",
    "LoadLimits",
    "LoadedCorpus",
    "UndecodableFileError",
    "decode_bytes",
    "load_corpus",
]
