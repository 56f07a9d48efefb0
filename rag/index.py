"""The index on disk: build it from files, and open it again safely.

An index is a self-describing directory: ``manifest.json`` (format version, model, chunking and BM25 settings,
corpus roots, counts, library versions, checksums) names the FAISS file, the BM25 files and the SQLite metadata
store of one build. A build writes its files under new names and replaces the manifest atomically last, so a
reader sees the old build or the new one, never half of one. Opening checks the manifest against the settings in
use and the files against their checksums, and says what to do when they disagree.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import Chunk, Chunker, sentence_spans_of
from rag.embedding import Embedder
from rag.embedding_cache import CACHE_NAME, EmbeddingCache, embed_with_cache
from rag.errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    NoDocumentsError,
    RagError,
)
from rag.lexical import LexicalIndex, LexicalTokenizer
from rag.loading import Document, LoadLimits, SkippedFile, load_corpus, shorten
from rag.settings import Settings
from rag.store import MetadataStore, SentenceVectors
from rag.vector_index import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
"""2: a BM25 index beside the vector index; 3: pages, sections and formats (PDF, HTML, DOCX, Markdown)."""
MANIFEST_NAME = "manifest.json"
LOCK_NAME = "index.lock"


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

    @classmethod
    def from_settings(cls, settings: Settings) -> ChunkingInfo:
        return cls(settings.chunk_tokens, settings.chunk_overlap_tokens, settings.language, settings.embed_titles)


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
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)
    """Sources indexed before that cannot be read now: their previous version stays in the index."""
    embedded: int = 0
    """Passages the model embedded in this run (the rest came from the embedding cache)."""
    rebuilt: bool = True
    """False when the previous build was updated in place of a full rebuild."""
    changed: bool = True
    """False when nothing changed: no new build was written."""


@dataclass
class Index:
    """An opened index: its manifest, vector index, BM25 index and metadata store (the model is loaded separately)."""

    directory: Path
    manifest: Manifest
    vectors: VectorIndex
    lexical: LexicalIndex
    store: MetadataStore

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer per index at a time (an advisory ``flock`` on ``index.lock``); readers never take it. The kernel
    releases the lock when its holder dies, even by SIGKILL, so a crash never leaves the index locked."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IndexLockedError(
                f"another rag index is writing {index_dir}/ ({holder}); wait for it to finish and run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(
    paths: list[Path],
    settings: Settings,
    *,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    full: bool = False,
    cache_path: Path | None = None,
) -> BuildReport:
    """Bring the index in ``index_dir`` in step with the files under ``paths``.

    New and changed documents (by content hash) are chunked and embedded, removed and changed ones leave the vector
    index and the store; everything else is reused. Passages the embedding cache knows are never embedded again.
    The new state is written beside the old one and the manifest switched last, so a crash at any point leaves
    the previous index whole. ``full`` (or an index built with other settings) rebuilds from scratch. The embedding
    cache is ``index_dir/embedding-cache.sqlite`` unless ``cache_path`` names one to share between indexes.

    A folder that cannot be written (disk full, read-only, no permission) raises ``IndexWriteError``; the files of
    the unfinished build are removed and the previous build stays as it was."""
    started = time.perf_counter()
    index_dir = Path(index_dir or settings.index_dir)
    try:
        with writer_lock(index_dir):
            try:
                return _sync(paths, settings, index_dir, embedder, progress, full, cache_path, started)
            except (OSError, sqlite3.Error):
                _remove_unfinished(index_dir)
                raise
    except (OSError, sqlite3.Error) as exc:
        raise IndexWriteError(_write_failure(index_dir, exc)) from exc


def _sync(
    paths: list[Path],
    settings: Settings,
    index_dir: Path,
    embedder: Embedder | None,
    progress: bool,
    full: bool,
    cache_path: Path | None,
    started: float,
) -> BuildReport:
    _remove_unreferenced(index_dir, _current_manifest(index_dir))  # leftovers of an interrupted build
    corpus = load_corpus(paths, LoadLimits.from_settings(settings))
    skipped = list(corpus.skipped)
    previous = None if full else _reusable_index(index_dir, settings)
    try:
        cache = cache_path or index_dir / CACHE_NAME
        return _build(
            paths, corpus.documents, skipped, previous, settings, index_dir, cache, embedder, progress, started
        )
    finally:
        if previous is not None:
            previous.close()


def _remove_unfinished(index_dir: Path) -> None:
    """Best effort after a failed write: drop the new build's files so a full disk gets its space back."""
    try:
        _remove_unreferenced(index_dir, _current_manifest(index_dir))
    except OSError:
        logger.warning("could not remove the unfinished build's files in %s", index_dir, exc_info=True)


_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def _write_failure(index_dir: Path, exc: OSError | sqlite3.Error) -> str:
    """One line that says why the index could not be written and what to do."""
    code = exc.errno if isinstance(exc, OSError) else None
    message = str(exc).lower()
    where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
    if code in _NO_SPACE or "disk is full" in message:
        cause = "the disk is full; free some space, or build elsewhere with --index DIR"
    elif code in _NOT_WRITABLE or "readonly" in message or "read-only" in message:
        cause = (
            "the folder is read-only or not yours to write; fix its permissions, or build elsewhere with --index DIR"
        )
    else:
        cause = f"{type(exc).__name__}: {shorten(str(exc))}"
    return f"cannot write the index in {index_dir}/{where}: {cause}. The previous build, if any, is unchanged."


def _build(
    paths: list[Path],
    loaded: list[Document],
    skipped: list[SkippedFile],
    previous: Index | None,
    settings: Settings,
    index_dir: Path,
    cache_path: Path,
    embedder: Embedder | None,
    progress: bool,
    started: float,
) -> BuildReport:
    known = previous.store.document_hashes() if previous else {}
    current = {d.doc_id: d for d in loaded}
    unreadable = {s.doc_id for s in skipped if s.doc_id is not None} & set(known)
    kept = sorted(doc_id for doc_id in unreadable if doc_id not in current)
    fresh = [d for d in loaded if known.get(d.doc_id) != d.sha256]
    gone = [doc_id for doc_id in known if doc_id not in current and doc_id not in unreadable]
    changed = [d.doc_id for d in fresh if d.doc_id in known]
    unchanged = len(loaded) - len(fresh)
    if previous is not None and not fresh and not gone:
        logger.info("index in %s is up to date", index_dir)
        return BuildReport(
            index_dir, previous.manifest.counts["documents"], previous.manifest.counts["chunks"], skipped,
            time.perf_counter() - started, previous.manifest, unchanged=unchanged, kept=kept, rebuilt=False,
            changed=False,
        )  # fmt: skip
    if not loaded and not kept:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5]) or "no .txt or .md files found"
        raise NoDocumentsError(f"nothing to index in {', '.join(map(str, paths))} ({reasons})")

    embedder = embedder or Embedder(settings.model, device=settings.device, batch_size=settings.batch_size)
    documents, chunks = _chunk(fresh, settings, embedder, skipped)
    spans = [sentence_spans_of(c, settings.language) for c in chunks]
    cache = EmbeddingCache(cache_path)
    try:
        vectors, sentence_vectors, embedded = embed_with_cache(
            embedder,
            cache,
            [c.embed_text for c in chunks],
            [[c.embed_span(a, b) for a, b in s] for c, s in zip(chunks, spans, strict=True)],
            progress=progress,
        )
    finally:
        cache.close()

    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    store_name, vectors_name = f"chunks-{build_id}.sqlite", f"vectors-{build_id}.faiss"
    if previous is not None:
        with sqlite3.connect(index_dir / store_name) as target:
            previous.store.db.backup(target)
        target.close()
    store = MetadataStore(index_dir / store_name)
    try:
        removed_ids = store.remove_documents([*changed, *gone])
        first_id = store.max_chunk_id() + 1
        chunk_ids = np.arange(first_id, first_id + len(chunks), dtype=np.int64)
        store.add(documents, chunks, chunk_ids.tolist())
        store.add_sentences(
            chunk_ids.tolist(), [SentenceVectors(s, v) for s, v in zip(spans, sentence_vectors, strict=True)]
        )
        lexical_ids, lexical_texts = store.lexical_passages(settings.bm25_titles)
        counts = {"documents": store.count_documents(), "chunks": store.count_chunks(), "skipped": len(skipped)}
    finally:
        store.close()
    vector_index = previous.vectors if previous is not None else VectorIndex(embedder.dimension)
    vector_index.remove(np.asarray(removed_ids, dtype=np.int64))
    vector_index.add(chunk_ids, vectors)
    vector_index.save(index_dir / vectors_name)
    lexical_info = LexicalInfo.from_settings(settings)
    lexical_dir = index_dir / f"lexical-{build_id}"
    LexicalIndex.build(
        lexical_ids, lexical_texts, lexical_info.tokenizer(), k1=settings.bm25_k1, b=settings.bm25_b
    ).save(lexical_dir)

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        build_id=build_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
        model=ModelInfo(embedder.name, embedder.dimension, embedder.max_seq_length),
        chunking=ChunkingInfo.from_settings(settings),
        lexical=lexical_info,
        corpus_roots=[str(Path(p).expanduser().resolve()) for p in paths],
        counts=counts,
        files={"store": _file_info(index_dir, store_name), "vectors": _file_info(index_dir, vectors_name)}
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
        documents=counts["documents"],
        chunks=counts["chunks"],
        skipped=skipped,
        seconds=time.perf_counter() - started,
        manifest=manifest,
        added=len(fresh) - len(changed),
        updated=len(changed),
        removed=len(gone),
        unchanged=unchanged,
        kept=kept,
        embedded=embedded,
        rebuilt=previous is None,
    )


def _chunk(
    documents: list[Document], settings: Settings, embedder: Embedder, skipped: list[SkippedFile]
) -> tuple[list[Document], list[Chunk]]:
    """Chunks of the documents to (re-)index; a document with no text after its header is skipped."""
    chunker = Chunker(
        embedder.tokenizer,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_tokens=embedder.max_content_tokens,
        language=settings.language,
        embed_titles=settings.embed_titles,
    )
    kept: list[Document] = []
    chunks: list[Chunk] = []
    for document in documents:
        try:
            doc_chunks = chunker.chunk(document)
        except Exception as exc:  # one document the chunker cannot cut must not end the run
            logger.warning("could not chunk %s", document.source, exc_info=True)
            skipped.append(
                SkippedFile(document.source, f"could not be cut into passages ({type(exc).__name__}: {exc})")
            )
            continue
        if not doc_chunks:
            skipped.append(SkippedFile(document.source, "no text to index after the header"))
            continue
        kept.append(document)
        chunks.extend(doc_chunks)
    logger.info("%d documents to (re-)index, %d chunks", len(kept), len(chunks))
    return kept, chunks


def _current_manifest(index_dir: Path) -> Manifest | None:
    try:
        return read_manifest(index_dir)
    except RagError:
        return None


def _reusable_index(index_dir: Path, settings: Settings) -> Index | None:
    """The current index if it can be updated in place: same format, model, chunking and BM25 settings, and
    whole. Anything else means a full rebuild (said in the log, never an error)."""
    try:
        index = open_index(index_dir, settings)
    except IndexNotFoundError:
        return None
    except RagError as exc:
        logger.warning("rebuilding %s from scratch: %s", index_dir, exc)
        return None
    same_chunks = index.manifest.chunking == ChunkingInfo.from_settings(settings)
    if not same_chunks or index.manifest.lexical != LexicalInfo.from_settings(settings):
        logger.warning("rebuilding %s from scratch: chunking or BM25 settings changed", index_dir)
        index.close()
        return None
    return index


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


def _remove_unreferenced(index_dir: Path, manifest: Manifest | None) -> None:
    """Delete build files the manifest does not name: earlier builds (open readers keep their handles on POSIX) and
    the leftovers of an interrupted one. Without a readable manifest, no build file is in use."""
    keep = {info.name.split("/")[0] for info in manifest.files.values()} if manifest else set()
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
