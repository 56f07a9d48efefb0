"""The index on disk: build it from files, and open it again safely.

An index is a self-describing directory: ``manifest.json`` (format version, model, chunking and BM25 settings,
corpus roots, counts, library versions, checksums) names the FAISS file, the BM25 files and the SQLite metadata
store of one build. A build writes its files under new names and replaces the manifest atomically last, so a
reader sees the old build or the new one, never half of one. Opening checks the manifest against the settings in
use and the files against their checksums, and says what to do when they disagree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import Chunk, Chunker, sentence_spans_of
from rag.embedding import Embedder
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, NoDocumentsError
from rag.lexical import LexicalIndex, LexicalTokenizer
from rag.loading import Document, SkippedFile, load_corpus
from rag.settings import Settings
from rag.store import MetadataStore, SentenceVectors
from rag.vector_index import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""2: a BM25 index beside the vector index."""
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


@dataclass(frozen=True)
class LexicalInfo:
    """How the BM25 index was built; queries are tokenized the same way."""

    language: str
    stem: bool
    stopwords: bool
    titles: bool
    k1: float
    b: float

    def tokenizer(self) -> LexicalTokenizer:
        return LexicalTokenizer(self.language, stem=self.stem, stopwords=self.stopwords)


@dataclass(frozen=True)
class FileInfo:
    name: str
    """Path relative to the index directory."""
    sha256: str
    bytes: int


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
    files: dict[str, FileInfo]
    versions: dict[str, str] = field(default_factory=dict)

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
            files={key: FileInfo(**value) for key, value in raw["files"].items()},
            versions=dict(raw.get("versions", {})),
        )


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI to show and tests to check."""

    index_dir: Path
    documents: int
    chunks: int
    skipped: list[SkippedFile]
    seconds: float
    manifest: Manifest


@dataclass
class Index:
    """An opened index: its manifest, vector index and metadata store (the model is loaded separately)."""

    directory: Path
    manifest: Manifest
    vectors: VectorIndex
    lexical: LexicalIndex
    store: MetadataStore

    def close(self) -> None:
        self.store.close()


def build_index(
    paths: list[Path],
    settings: Settings,
    *,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> BuildReport:
    """Load, chunk and embed everything under ``paths`` and write a fresh index to ``index_dir``."""
    started = time.perf_counter()
    index_dir = Path(index_dir or settings.index_dir)
    corpus = load_corpus(paths)
    skipped = list(corpus.skipped)
    if not corpus.documents:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5]) or "no .txt or .md files found"
        raise NoDocumentsError(f"nothing to index in {', '.join(map(str, paths))} ({reasons})")

    embedder = embedder or Embedder(settings.model, device=settings.device, batch_size=settings.batch_size)
    chunker = Chunker(
        embedder.tokenizer,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_tokens=embedder.max_content_tokens,
        language=settings.language,
        embed_titles=settings.embed_titles,
    )
    documents: list[Document] = []
    chunks: list[Chunk] = []
    for document, doc_chunks in zip(corpus.documents, chunker.chunk_batch(corpus.documents), strict=True):
        if not doc_chunks:
            skipped.append(SkippedFile(document.source, "no text to index after the header"))
            continue
        documents.append(document)
        chunks.extend(doc_chunks)
    logger.info("%d documents, %d chunks; embedding", len(documents), len(chunks))
    sentence_spans = [sentence_spans_of(c, settings.language) for c in chunks]
    vectors, sentence_vectors = embedder.embed_passages_with_sentences(
        [c.embed_text for c in chunks],
        [[c.embed_span(a, b) for a, b in spans] for c, spans in zip(chunks, sentence_spans, strict=True)],
        progress=progress,
    )
    chunk_ids = np.arange(1, len(chunks) + 1, dtype=np.int64)

    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    index_dir.mkdir(parents=True, exist_ok=True)
    store_name, vectors_name = f"chunks-{build_id}.sqlite", f"vectors-{build_id}.faiss"
    store = MetadataStore(index_dir / store_name)
    try:
        store.add(documents, chunks, chunk_ids.tolist())
        store.add_sentences(
            chunk_ids.tolist(),
            [SentenceVectors(spans, v) for spans, v in zip(sentence_spans, sentence_vectors, strict=True)],
        )
    finally:
        store.close()
    vector_index = VectorIndex(embedder.dimension)
    vector_index.add(chunk_ids, vectors)
    vector_index.save(index_dir / vectors_name)
    lexical_info = LexicalInfo(
        settings.language, settings.bm25_stem, settings.bm25_stopwords, settings.bm25_titles, settings.bm25_k1,
        settings.bm25_b,
    )  # fmt: skip
    titles = {d.doc_id: d.title for d in documents} if settings.bm25_titles else {}
    lexical_dir = index_dir / f"lexical-{build_id}"
    LexicalIndex.build(
        chunk_ids.tolist(),
        [f"{titles[c.doc_id]}\n{c.text}" if titles.get(c.doc_id) else c.text for c in chunks],
        lexical_info.tokenizer(),
        k1=settings.bm25_k1,
        b=settings.bm25_b,
    ).save(lexical_dir)

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        build_id=build_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
        model=ModelInfo(embedder.name, embedder.dimension, embedder.max_seq_length),
        chunking=ChunkingInfo(
            settings.chunk_tokens, settings.chunk_overlap_tokens, settings.language, settings.embed_titles
        ),
        lexical=lexical_info,
        corpus_roots=[str(Path(p).expanduser().resolve()) for p in paths],
        counts={"documents": len(documents), "chunks": len(chunks), "skipped": len(skipped)},
        files={
            "store": _file_info(index_dir, store_name),
            "vectors": _file_info(index_dir, vectors_name),
        }
        | {
            f"lexical/{path.name}": _file_info(index_dir, f"{lexical_dir.name}/{path.name}")
            for path in sorted(lexical_dir.iterdir())
        },
        versions=_library_versions(),
    )
    _write_manifest(index_dir, manifest)
    _remove_unreferenced(index_dir, manifest)
    logger.info("index %s written to %s", build_id, index_dir)
    return BuildReport(
        index_dir=index_dir,
        documents=len(documents),
        chunks=len(chunks),
        skipped=skipped,
        seconds=time.perf_counter() - started,
        manifest=manifest,
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
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise IndexCorruptError(f"{path} is not a readable manifest ({exc}); rebuild the index with rag index") from exc
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {index_dir}/ has format version {version}, this version of rag reads {FORMAT_VERSION}; "
            "rebuild it with rag index"
        )
    try:
        return Manifest.from_json(raw)
    except (KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{path} is missing fields ({exc}); rebuild the index with rag index") from exc


def open_index(index_dir: Path, settings: Settings, *, verify: bool = True) -> Index:
    """Open the index in ``index_dir`` for reading, after checking it was built with ``settings.model`` and that
    its files are whole."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest.model.name != settings.model:
        raise IndexMismatchError(
            f"index in {index_dir}/ was built with model {manifest.model.name!r} but the model setting is "
            f"{settings.model!r}. Set RAG_MODEL={manifest.model.name} to use it, or rebuild with rag index."
        )
    for info in manifest.files.values():
        _check_file(index_dir / info.name, info, verify=verify)
    vectors = VectorIndex.load(index_dir / manifest.files["vectors"].name, manifest.model.dimension)
    if len(vectors) != manifest.counts["chunks"]:
        raise IndexCorruptError(
            f"{index_dir / manifest.files['vectors'].name} holds {len(vectors)} vectors, the manifest says "
            f"{manifest.counts['chunks']}; rebuild the index with rag index"
        )
    lexical_ids = manifest.files.get("lexical/chunk_ids.npy")
    if lexical_ids is None:
        raise IndexCorruptError(f"{index_dir / MANIFEST_NAME} names no BM25 index; rebuild the index with rag index")
    lexical_dir = index_dir / lexical_ids.name.split("/")[0]
    lexical = LexicalIndex.load(lexical_dir, manifest.lexical.tokenizer())
    if len(lexical) != manifest.counts["chunks"]:
        raise IndexCorruptError(
            f"{lexical_dir} holds {len(lexical)} passages, the manifest says {manifest.counts['chunks']}; rebuild "
            "the index with rag index"
        )
    store = MetadataStore(index_dir / manifest.files["store"].name, read_only=True)
    return Index(directory=index_dir, manifest=manifest, vectors=vectors, lexical=lexical, store=store)


def _check_file(path: Path, info: FileInfo, *, verify: bool) -> None:
    if not path.is_file():
        raise IndexCorruptError(f"index file {path} is missing; rebuild the index with rag index")
    size = path.stat().st_size
    if size != info.bytes:
        raise IndexCorruptError(
            f"index file {path} has {size} bytes, the manifest says {info.bytes} (truncated or changed); "
            "rebuild the index with rag index"
        )
    if verify and _sha256(path) != info.sha256:
        raise IndexCorruptError(f"index file {path} does not match its checksum; rebuild the index with rag index")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_info(index_dir: Path, name: str) -> FileInfo:
    path = index_dir / name
    _fsync(path)
    return FileInfo(name=name, sha256=_sha256(path), bytes=path.stat().st_size)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically: write a temporary file, fsync it, rename it over the old one."""
    temporary = index_dir / f".{MANIFEST_NAME}.{manifest.build_id}.tmp"
    temporary.write_text(manifest.to_json(), encoding="utf-8")
    _fsync(temporary)
    os.replace(temporary, index_dir / MANIFEST_NAME)
    _fsync(index_dir)


def _remove_unreferenced(index_dir: Path, manifest: Manifest) -> None:
    """Delete files of earlier builds (open readers keep their handles on POSIX)."""
    keep = {info.name.split("/")[0] for info in manifest.files.values()}
    for path in index_dir.iterdir():
        if path.name in keep or not path.name.startswith(("chunks-", "vectors-", "lexical-")):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _library_versions() -> dict[str, str]:
    versions = {}
    for package in ("rag-search", "faiss-cpu", "sentence-transformers", "torch", "transformers", "bm25s"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
