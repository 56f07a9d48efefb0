"""The commit point of an index: ``manifest.json`` names the segments that make up the current build and the
deletions recorded for each, says how they were made (format version, model, chunking and BM25 settings, corpus
roots, counts, library versions) and gives each file's size and checksum. It is replaced atomically, last, so a
reader sees one whole build or the previous one."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.index.lexical import LexicalTokenizer
from rag.index.segment import FileInfo, SegmentInfo
from rag.ingest.reading import shorten
from rag.settings import Settings

FORMAT_VERSION = 8
"""2: a BM25 index beside the vector index; 3: pages, sections and formats (PDF, HTML, DOCX, Markdown); 4: text
extracted by PDFium and trafilatura, searchable forms (NFKC) in BM25 and embeddings; 5: BM25 over whole
documents beside BM25 over passages; 6: segments with deletions, BM25 statistics taken at query time; 7: passages
in BM25 with their heading paths and table headers, DOCX titles from the Title paragraph; 8: passages of documents
in a language the model does not read sized in words, over-long sentences cut at their line breaks."""


MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    dimension: int
    max_seq_length: int


@dataclass(frozen=True)
class ChunkingInfo:
    chunk_tokens: int
    overlap_tokens: int
    language: str
    embed_titles: bool
    model_languages: str | None
    """The setting, which sizes passages of documents in other languages (unset: the model card's)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ChunkingInfo:
        return cls(
            settings.chunk_tokens, settings.chunk_overlap_tokens, settings.language, settings.embed_titles,
            settings.model_languages,
        )  # fmt: skip


@dataclass(frozen=True)
class LexicalInfo:
    """How the BM25 index was built; queries are tokenized the same way."""

    language: str
    stem: bool
    stopwords: bool
    titles: bool
    k1: float
    b: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LexicalInfo:
        return cls(
            settings.language, settings.bm25_stem, settings.bm25_stopwords, settings.bm25_titles, settings.bm25_k1,
            settings.bm25_b,
        )  # fmt: skip

    def tokenizer(self) -> LexicalTokenizer:
        return LexicalTokenizer(self.language, stem=self.stem, stopwords=self.stopwords)


@dataclass(frozen=True)
class Manifest:
    """What an index directory holds and how it was made."""

    format_version: int
    build_id: str
    created_at: str
    build_seconds: float
    model: ModelInfo
    chunking: ChunkingInfo
    lexical: LexicalInfo
    corpus_roots: list[str]
    counts: dict[str, int]
    segments: list[SegmentInfo]
    next_chunk: int
    """The id the next passage added gets: ids only grow, so segments hold ascending, disjoint id ranges."""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> dict[str, FileInfo]:
        """Every file of the build (segment files and deletion lists), by its path in the index folder."""
        return {info.name: info for segment in self.segments for info in segment.all_files}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        return cls(
            format_version=raw["format_version"],
            build_id=raw["build_id"],
            created_at=raw["created_at"],
            build_seconds=raw["build_seconds"],
            model=ModelInfo(**raw["model"]),
            chunking=ChunkingInfo(**raw["chunking"]),
            lexical=LexicalInfo(**raw["lexical"]),
            corpus_roots=list(raw["corpus_roots"]),
            counts=dict(raw["counts"]),
            segments=[SegmentInfo.from_json(segment) for segment in raw["segments"]],
            next_chunk=raw["next_chunk"],
            versions=dict(raw.get("versions", {})),
        )


def read_manifest(index_dir: Path) -> Manifest:
    """The manifest of the index in ``index_dir``, checked for format version."""
    path = Path(index_dir) / MANIFEST_NAME
    if not path.is_file():
        raise IndexNotFoundError(
            f"no index found in {index_dir}/ (no {MANIFEST_NAME}). Build one first: rag index [PATH ...] "
            f"--index {index_dir}"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        version = raw.get("format_version")
    except (OSError, ValueError, AttributeError) as exc:  # ValueError: bad JSON or bytes that are not UTF-8
        raise IndexCorruptError(
            f"{path} is not a readable manifest ({type(exc).__name__}: {shorten(str(exc))}); rebuild the index with "
            "rag index (it rebuilds over a damaged manifest)"
        ) from exc
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {index_dir}/ has format version {version}, this version of rag reads {FORMAT_VERSION}; "
            "rebuild it with rag index"
        )
    try:
        return Manifest.from_json(raw)
    except (KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{path} is missing fields ({exc}); rebuild the index with rag index") from exc


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a written file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_info(index_dir: Path, path: Path) -> FileInfo:
    """A written file's name (relative to the index), checksum and size, after an fsync."""
    fsync_path(path)
    return FileInfo(name=str(path.relative_to(index_dir)), sha256=file_sha256(path), bytes=path.stat().st_size)


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically."""
    replace_file(index_dir / MANIFEST_NAME, manifest.to_json(), manifest.build_id)


def replace_file(path: Path, text: str, build_id: str) -> None:
    """Replace a file of the index atomically: write a temporary file, fsync it, rename it over the old one."""
    temporary = path.parent / f".{path.name}.{build_id}.tmp"
    temporary.write_text(text, encoding="utf-8")
    fsync_path(temporary)
    os.replace(temporary, path)
    fsync_path(path.parent)
