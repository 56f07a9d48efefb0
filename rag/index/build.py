"""The index on disk: build it from files, and open it again safely.

An index is a self-describing directory: ``manifest.json`` (format version, model, chunking and BM25 settings,
corpus roots, counts, library versions, checksums) names the FAISS file, the BM25 files and the SQLite metadata
store of one build. A build writes its files under new names and replaces the manifest atomically last, so a
reader sees the old build or the new one, never half of one. Opening checks the manifest against the settings in
use and the files against their checksums, and says what to do when they disagree.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.errors import IndexNotFoundError, IndexWriteError, NoDocumentsError, RagError
from rag.index.embedding_cache import CACHE_NAME, EmbeddingCache, embed_with_cache
from rag.index.lexical import DocumentLexicalIndex, LexicalIndex
from rag.index.lock import LOCK_NAME, writer_lock
from rag.index.manifest import (
    FORMAT_VERSION,
    ChunkingInfo,
    LexicalInfo,
    Manifest,
    ModelInfo,
    file_info,
    read_manifest,
    write_manifest,
)
from rag.index.reader import Index, open_index
from rag.index.store import MetadataStore
from rag.index.vectors import VectorIndex
from rag.ingest.chunking import Chunker, sentence_spans_of
from rag.ingest.loading import load_corpus
from rag.ingest.reading import LoadLimits, shorten
from rag.settings import Settings
from rag.types import Chunk, Document, SentenceVectors, SkippedFile

logger = logging.getLogger(__name__)


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
    created = not index_dir.exists()
    try:
        with writer_lock(index_dir):
            try:
                target = BuildTarget(index_dir, settings, list(paths), cache_path or index_dir / CACHE_NAME, started)
                return _sync(target, embedder, progress, full)
            except (OSError, sqlite3.Error):
                _remove_unfinished(index_dir)
                raise
    except (OSError, sqlite3.Error) as exc:
        raise IndexWriteError(_write_failure(index_dir, exc)) from exc
    finally:
        if created:
            _remove_if_nothing_was_built(index_dir)


def _remove_if_nothing_was_built(index_dir: Path) -> None:
    """A first build that failed (nothing to index, an unreadable folder) leaves no folder holding only its lock
    file and an empty cache behind."""
    try:
        leftovers = {path.name: path.stat().st_size for path in index_dir.iterdir()}
        cache_files = {CACHE_NAME, f"{CACHE_NAME}-journal", f"{CACHE_NAME}-wal"}
        worth_keeping = sum(size for name, size in leftovers.items() if name in cache_files) > 100_000  # vectors
        if leftovers and set(leftovers) <= {LOCK_NAME, *cache_files} and not worth_keeping:
            shutil.rmtree(index_dir)
    except OSError:
        logger.debug("could not remove %s", index_dir, exc_info=True)


@dataclass(frozen=True)
class BuildTarget:
    """Where and how a build writes: the index folder, the settings, the corpus roots, the shared embedding cache
    and when the run started."""

    index_dir: Path
    settings: Settings
    paths: list[Path]
    cache_path: Path
    started: float


@dataclass(frozen=True)
class BuildPlan:
    """What a sync will do, decided from content hashes before any model loads."""

    fresh: list[Document]
    """New and changed documents: chunked and embedded."""
    changed: list[str]
    gone: list[str]
    """Documents no longer in the folders: their passages leave the index."""
    kept: list[str]
    """Documents indexed before that cannot be read now: their previous version stays."""
    unchanged: int
    skipped: list[SkippedFile]
    moved: dict[str, str] = field(default_factory=dict)
    """Unchanged documents now read from another path (their folder moved): only their recorded path changes."""

    @property
    def nothing_to_do(self) -> bool:
        return not self.fresh and not self.gone and not self.moved


def plan_build(
    loaded: list[Document],
    skipped: list[SkippedFile],
    known: dict[str, str],
    unchanged: Sequence[str] = (),
    moved: Mapping[str, str] | None = None,
) -> BuildPlan:
    """Compare what was loaded with what the index holds (``known``: document id -> content hash); ``unchanged``
    are the ids of files recognised by their hash before loading; ``moved``: ids read from a new path, with it."""
    current = {d.doc_id for d in loaded} | set(unchanged)
    unreadable = {s.doc_id for s in skipped if s.doc_id is not None} & set(known)
    fresh = [d for d in loaded if known.get(d.doc_id) != d.sha256]
    return BuildPlan(
        fresh=fresh,
        changed=[d.doc_id for d in fresh if d.doc_id in known],
        gone=[doc_id for doc_id in known if doc_id not in current and doc_id not in unreadable],
        kept=sorted(doc_id for doc_id in unreadable if doc_id not in current),
        unchanged=len(loaded) - len(fresh) + len(unchanged),
        skipped=skipped,
        moved={doc_id: source for doc_id, source in (moved or {}).items() if doc_id not in {d.doc_id for d in fresh}},
    )


@dataclass(frozen=True)
class EmbeddedChunks:
    """The chunks of the fresh documents with their passage and sentence vectors."""

    documents: list[Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    sentences: list[SentenceVectors]
    embedded: int
    """Passages the model embedded (the rest came from the embedding cache)."""


def _sync(target: BuildTarget, embedder: Embedder | None, progress: bool, full: bool) -> BuildReport:
    """Plan, then (when anything changed) chunk and embed, then write the new build beside the old one."""
    index_dir, settings = target.index_dir, target.settings
    _remove_unreferenced(index_dir, _current_manifest(index_dir))  # leftovers of an interrupted build
    previous = None if full else _reusable_index(index_dir, settings)
    try:
        known = previous.store.document_hashes() if previous else {}
        corpus = load_corpus(target.paths, LoadLimits.from_settings(settings), known)
        stored = previous.store.document_sources() if previous else {}
        read_from = {u.doc_id: u.source for u in corpus.unchanged} | {d.doc_id: d.source for d in corpus.documents}
        moved = {doc_id: source for doc_id, source in read_from.items() if stored.get(doc_id, source) != source}
        plan = plan_build(corpus.documents, list(corpus.skipped), known, [u.doc_id for u in corpus.unchanged], moved)
        if previous is not None and plan.nothing_to_do:
            logger.info("index in %s is up to date", index_dir)
            counts = previous.manifest.counts
            return BuildReport(
                index_dir, counts["documents"], counts["chunks"], plan.skipped, time.perf_counter() - target.started,
                previous.manifest, unchanged=plan.unchanged, kept=plan.kept, rebuilt=False, changed=False,
            )  # fmt: skip
        if not corpus.documents and not corpus.unchanged and not plan.kept:
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in plan.skipped[:5]) or "no indexable files found"
            raise NoDocumentsError(f"nothing to index in {', '.join(map(str, target.paths))} ({reasons})")
        if not plan.fresh and previous is not None:  # only removals or moves: no passage to embed, no model to load
            dimension = previous.manifest.model.dimension
            nothing = EmbeddedChunks([], [], np.zeros((0, dimension), dtype=np.float32), [], 0)
            return _write(target, plan, nothing, previous, previous.manifest.model)
        embedder = embedder or Embedder.from_settings(settings)
        embedded = _embed(plan, target, embedder, progress)
        model = ModelInfo(embedder.name, embedder.dimension, embedder.max_seq_length)
        return _write(target, plan, embedded, previous, model)
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
    short_write = code is None and re.search(r"\d+ requested and \d+ written", message) is not None  # numpy's
    if code in _NO_SPACE or "disk is full" in message or short_write:
        cause = "the disk is full; free some space, or build elsewhere with --index DIR"
    elif code in _NOT_WRITABLE or "readonly" in message or "read-only" in message:
        cause = (
            "the folder is read-only or not yours to write; fix its permissions, or build elsewhere with --index DIR"
        )
    else:
        cause = f"{type(exc).__name__}: {shorten(str(exc))}"
    return f"cannot write the index in {index_dir}/{where}: {cause}. The previous build, if any, is unchanged."


def _embed(plan: BuildPlan, target: BuildTarget, embedder: Embedder, progress: bool) -> EmbeddedChunks:
    """Chunk the fresh documents and embed what the cache does not hold, sentence vectors with the passages."""
    settings = target.settings
    documents, chunks = _chunk(plan.fresh, settings, embedder, plan.skipped)
    spans = [sentence_spans_of(c, settings.language) for c in chunks]
    cache = EmbeddingCache(target.cache_path)
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
    sentences = [SentenceVectors(s, v) for s, v in zip(spans, sentence_vectors, strict=True)]
    return EmbeddedChunks(documents, chunks, vectors, sentences, embedded)


def _write(
    target: BuildTarget, plan: BuildPlan, new: EmbeddedChunks, previous: Index | None, model: ModelInfo
) -> BuildReport:
    """The new build's files beside the previous build's (store copied and updated, vectors and BM25 written),
    then the manifest switched atomically, then the previous build's files removed."""
    index_dir, settings = target.index_dir, target.settings
    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    store_name, vectors_name = f"chunks-{build_id}.sqlite", f"vectors-{build_id}.faiss"
    if previous is not None:
        with sqlite3.connect(index_dir / store_name) as copy:
            previous.store.db.backup(copy)
        copy.close()
    store = MetadataStore(index_dir / store_name)
    try:
        removed_ids = store.remove_documents([*plan.changed, *plan.gone])
        store.move_documents(plan.moved)
        first_id = store.max_chunk_id() + 1
        chunk_ids = np.arange(first_id, first_id + len(new.chunks), dtype=np.int64)
        store.add(new.documents, new.chunks, chunk_ids.tolist())
        store.add_sentences(chunk_ids.tolist(), new.sentences)
        lexical_ids, lexical_texts = store.lexical_passages(settings.bm25_titles)
        document_texts, chunk_documents = store.lexical_documents(settings.bm25_titles)
        counts = {"documents": store.count_documents(), "chunks": store.count_chunks(), "skipped": len(plan.skipped)}
    finally:
        store.close()
    vector_index = previous.vectors if previous is not None else VectorIndex(model.dimension)
    vector_index.remove(np.asarray(removed_ids, dtype=np.int64))
    vector_index.add(chunk_ids, new.vectors)
    vector_index.save(index_dir / vectors_name)
    lexical_info = LexicalInfo.from_settings(settings)
    lexical_dir = index_dir / f"lexical-{build_id}"
    LexicalIndex.build(
        lexical_ids, lexical_texts, lexical_info.tokenizer(), k1=settings.bm25_k1, b=settings.bm25_b
    ).save(lexical_dir)
    documents_dir = index_dir / f"documents-{build_id}"
    DocumentLexicalIndex.build(
        document_texts, chunk_documents, lexical_info.tokenizer(), k1=settings.bm25_k1, b=settings.bm25_b
    ).save(documents_dir)
    del lexical_texts, document_texts

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        build_id=build_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - target.started, 3),
        model=model,
        chunking=ChunkingInfo.from_settings(settings),
        lexical=lexical_info,
        corpus_roots=[str(Path(p).expanduser().resolve()) for p in target.paths],
        counts=counts,
        files={"store": file_info(index_dir, store_name), "vectors": file_info(index_dir, vectors_name)}
        | {
            f"lexical/{path.name}": file_info(index_dir, f"{lexical_dir.name}/{path.name}")
            for path in sorted(lexical_dir.iterdir())
        }
        | {
            f"documents/{path.name}": file_info(index_dir, f"{documents_dir.name}/{path.name}")
            for path in sorted(documents_dir.iterdir())
        },
        versions=_library_versions(),
    )
    write_manifest(index_dir, manifest)
    _remove_unreferenced(index_dir, manifest)
    logger.info("index %s written to %s", build_id, index_dir)
    return BuildReport(
        index_dir=index_dir,
        documents=counts["documents"],
        chunks=counts["chunks"],
        skipped=plan.skipped,
        seconds=time.perf_counter() - target.started,
        manifest=manifest,
        added=len(plan.fresh) - len(plan.changed),
        updated=len(plan.changed),
        removed=len(plan.gone),
        unchanged=plan.unchanged,
        kept=plan.kept,
        embedded=new.embedded,
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


def _remove_unreferenced(index_dir: Path, manifest: Manifest | None) -> None:
    """Delete build files the manifest does not name: earlier builds (open readers keep their handles on POSIX) and
    the leftovers of an interrupted one. Without a readable manifest, no build file is in use."""
    keep = {info.name.split("/")[0] for info in manifest.files.values()} if manifest else set()
    for path in index_dir.iterdir():
        if path.name in keep or not path.name.startswith(("chunks-", "vectors-", "lexical-", "documents-")):
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
