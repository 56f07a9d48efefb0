"""The index on disk: bring it in step with a folder, in proportion to what changed.

An index is a self-describing directory of immutable segments (``rag.index.segment``) and a commit point,
``manifest.json`` (``rag.index.manifest``), naming the segments of the current build and the deletions recorded
for each. A sync streams the folder past a build plan (``rag.index.plan``): unchanged files are recognised by
size and time without being read, new and changed documents are chunked, embedded and written into one new
segment a batch at a time, removed and changed ones are recorded as deletions of the segments that hold them.
The manifest is switched atomically last, so a reader sees the old build or the new one, never half of one; when
segments pile up, neighbours are merged (``rag.index.merge``). One writer at a time (``rag.index.lock``).
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from rag.embedding import Embedder
from rag.errors import IndexNotFoundError, IndexWriteError, NoDocumentsError, RagError
from rag.index.dense import own_vectors
from rag.index.dense.mirror import MirrorReport, VectorMirror
from rag.index.embedding_cache import CACHE_NAME, EmbeddingCache, cache_key, embed_with_cache
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
from rag.index.merge import merge, merge_groups
from rag.index.plan import BuildPlan
from rag.index.reader import Index, open_index
from rag.index.segment import Segment, SegmentInfo
from rag.index.vectors import HnswParameters
from rag.index.writer import SegmentLayout, SegmentWriter
from rag.ingest.chunking import Chunker, sentence_spans_of
from rag.ingest.loading import stream_corpus
from rag.ingest.reading import LoadLimits, shorten
from rag.language import language_check
from rag.settings import Settings
from rag.types import Chunk, Document, SentenceVectors, SkippedFile

if TYPE_CHECKING:
    from rag.distributed import RayEmbedder

logger = logging.getLogger(__name__)

MANAGED_FOLDER = "uploads"
"""The folder inside an index that holds the documents added through the service (``rag.index.uploads``)."""


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
    vector_store: MirrorReport | None = None
    """What the build wrote to and deleted from a Milvus store (None: the vectors are the index's own)."""


def build_index(
    paths: list[Path],
    settings: Settings,
    *,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    full: bool = False,
    cache_path: Path | None = None,
    keep_others: bool = False,
) -> BuildReport:
    """Bring the index in ``index_dir`` in step with the files under ``paths``.

    New and changed documents (by content hash) are chunked and embedded, removed and changed ones leave the vector
    index and the store; everything else is reused. Passages the embedding cache knows are never embedded again.
    The new state is written beside the old one and the manifest switched last, so a crash at any point leaves
    the previous index whole. ``full`` (or an index built with other settings) rebuilds from scratch. The embedding
    cache is ``index_dir/embedding-cache.sqlite`` unless ``cache_path`` names one to share between indexes.
    ``keep_others`` syncs only ``paths``: documents indexed from other folders stay as they are (uploads sync the
    managed folder this way). The index's managed folder (``MANAGED_FOLDER``), when it exists, is always synced
    with the rest, so that ``rag index`` never drops the documents uploaded to the service.

    A folder that cannot be written (disk full, read-only, no permission) raises ``IndexWriteError``; the files of
    the unfinished build are removed and the previous build stays as it was."""
    started = time.perf_counter()
    index_dir = Path(index_dir or settings.index_dir)
    created = not index_dir.exists()
    managed = index_dir / MANAGED_FOLDER
    if managed.is_dir() and managed.resolve() not in {Path(p).expanduser().resolve() for p in paths}:
        paths = [*paths, managed]
    try:
        with writer_lock(index_dir):
            try:
                cache = cache_path or index_dir / CACHE_NAME
                target = BuildTarget(index_dir, settings, list(paths), cache, started, keep_others)
                mirror = VectorMirror.before_build(index_dir, settings)
                report = _sync(target, embedder, progress, full)
                if mirror is not None:
                    report = replace(report, vector_store=mirror.after_build(progress))
                return report
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
    keep_others: bool = False
    build_id: str = field(default_factory=lambda: f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")

    @property
    def roots(self) -> list[str]:
        """``paths`` as absolute paths, as the loader records sources."""
        return [str(Path(p).expanduser().resolve()) for p in self.paths]

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The folders a sync with ``keep_others`` answers for (None: the whole index)."""
        return tuple(self.roots) if self.keep_others else None

    def corpus_roots(self, previous: Index | None) -> list[str]:
        roots = self.roots
        if self.keep_others and previous is not None:
            roots = [*(r for r in previous.manifest.corpus_roots if r not in roots), *roots]
        return roots

    def layout(self) -> SegmentLayout:
        settings = self.settings
        return SegmentLayout(
            LexicalInfo.from_settings(settings).tokenizer(), settings.bm25_titles, settings.hnsw_threshold,
            HnswParameters.from_settings(settings),
        )  # fmt: skip


class NewSegment:
    """The segment a sync writes: fresh documents gathered into batches of ``Settings.build_batch_chars``, each
    chunked, embedded (through the embedding cache) and appended; the writer opens and the model loads only when
    the first document needs them."""

    def __init__(self, target: BuildTarget, plan: BuildPlan, embedder: Embedder | None, first_chunk: int,
                 progress: bool) -> None:  # fmt: skip
        self.target, self.plan, self.embedder = target, plan, embedder
        self.first_chunk = first_chunk
        self.name = f"seg-{target.build_id}"
        self.writer: SegmentWriter | None = None
        self.pending: list[Document] = []
        self.pending_chars = 0
        self.embedded = 0
        self.cache: EmbeddingCache | None = None  # opened with the first batch: a sync that embeds nothing makes none
        self.ray: RayEmbedder | None = None  # engine ray: the actors this segment started, stopped when it ends
        self._chunker: Chunker | None = None
        self.bar = tqdm(desc="indexing", unit="passage", disable=not progress)

    def add(self, document: Document) -> None:
        self.pending.append(document)
        self.pending_chars += len(document.text)
        if self.pending_chars >= self.target.settings.build_batch_chars:
            self.flush()

    def model(self) -> Embedder:
        if self.embedder is None:
            self.embedder = Embedder.from_settings(self.target.settings)
            if self.target.settings.engine == "ray":
                from rag.distributed import RayEmbedder

                self.embedder = self.ray = RayEmbedder(self.embedder, self.target.settings)
        return self.embedder

    def chunker(self) -> Chunker:
        """The model's chunker (its tokenizer, limit and languages), made with the first batch."""
        if self._chunker is None:
            settings, embedder = self.target.settings, self.model()
            languages = language_check(settings.model_languages, embedder.path)
            self._chunker = Chunker.from_settings(settings, embedder.tokenizer, embedder.max_content_tokens, languages)
        return self._chunker

    def open_writer(self) -> SegmentWriter:
        if self.writer is None:
            self.writer = SegmentWriter(self.target.index_dir, self.name, self.target.layout(), self.first_chunk)
        return self.writer

    def flush(self) -> None:
        """Chunk, embed and write the pending documents."""
        if not self.pending:
            return
        settings, embedder = self.target.settings, self.model()
        documents, chunks = _chunk(self.pending, self.chunker(), self.plan)
        self.pending, self.pending_chars = [], 0
        if not chunks:
            return
        spans = [sentence_spans_of(c, settings.language) for c in chunks]
        sentence_texts = [[c.embed_span(a, b) for a, b in s] for c, s in zip(chunks, spans, strict=True)]
        texts = [c.embed_text for c in chunks]
        self.cache = self.cache or EmbeddingCache(self.target.cache_path)
        keys = [cache_key(embedder.vectors_of, t, s) for t, s in zip(texts, sentence_texts, strict=True)]
        vectors, sentence_vectors, embedded = embed_with_cache(embedder, self.cache, texts, sentence_texts, keys=keys)
        sentences = [SentenceVectors(s, v) for s, v in zip(spans, sentence_vectors, strict=True)]
        self.open_writer().add(documents, chunks, vectors, sentences, keys)
        self.embedded += embedded
        self.bar.update(len(chunks))

    def finish(self) -> SegmentInfo | None:
        """The written segment, or None when nothing was written."""
        self.flush()
        self._release()
        if self.writer is None:
            return None
        if self.writer.chunks == 0:
            self.writer.abandon()
            return None
        return self.writer.finish()

    def abandon(self) -> None:
        self._release()
        if self.writer is not None:
            self.writer.abandon()

    def _release(self) -> None:
        self.bar.close()
        if self.cache is not None:
            self.cache.close()
            self.cache = None
        if self.ray is not None:
            self.ray.close()
            self.ray = None


def _sync(target: BuildTarget, embedder: Embedder | None, progress: bool, full: bool) -> BuildReport:
    """Stream the folder past the plan, writing fresh documents into a new segment as they come; then record
    deletions, merge if segments piled up, and switch the commit point."""
    index_dir, settings = target.index_dir, target.settings
    _remove_unreferenced(index_dir, _current_manifest(index_dir))  # leftovers of an interrupted build
    previous = None if full else _reusable_index(index_dir, settings)
    try:
        plan = BuildPlan(previous.store.known_files() if previous else {}, target.scope)
        first_chunk = previous.manifest.next_chunk if previous else 1
        segment = NewSegment(target, plan, embedder, first_chunk, progress)
        try:
            for item in stream_corpus(target.paths, LoadLimits.from_settings(settings), plan.known):
                if (document := plan.see(item)) is not None:
                    segment.add(document)
            segment.flush()
            plan.finish()
            if previous is not None and plan.nothing_to_do:
                segment.abandon()
                logger.info("index in %s is up to date", index_dir)
                counts = previous.manifest.counts
                return BuildReport(
                    index_dir, counts["documents"], counts["chunks"], plan.skipped,
                    time.perf_counter() - target.started, previous.manifest, unchanged=plan.unchanged,
                    kept=plan.kept, rebuilt=False, changed=False,
                )  # fmt: skip
            found_nothing = not plan.loaded and not plan.unchanged and not plan.kept
            if found_nothing and (previous is None or not target.keep_others):
                reasons = "; ".join(f"{s.source}: {s.reason}" for s in plan.skipped[:5]) or "no indexable files found"
                raise NoDocumentsError(f"nothing to index in {', '.join(map(str, target.paths))} ({reasons})")
            if plan.moved and previous is not None:
                _copy_moved(segment, previous, plan.moved)
            written = segment.finish()
        except BaseException:
            segment.abandon()
            raise
        if segment.embedder is not None:
            embedder = segment.embedder
            model = ModelInfo(embedder.name, embedder.dimension, embedder.max_seq_length)
        elif previous is not None:
            model = previous.manifest.model
        else:
            embedder = segment.model()
            model = ModelInfo(embedder.name, embedder.dimension, embedder.max_seq_length)
        return _commit(target, plan, previous, written, segment.embedded, model)
    finally:
        if previous is not None:
            previous.close()


def _copy_moved(segment: NewSegment, previous: Index, moved: dict[str, str]) -> None:
    """Documents whose folder moved, copied into the new segment with their new paths (not re-embedded); their
    old copies are deleted with the removed documents."""
    writer = segment.open_writer()
    for old in previous.segments:
        live = old.live_documents(old.live())
        doc_ids = [r.doc_id for r in old.store.ranges_of(moved) if live[r.number]]
        writer.copy(old, doc_ids, keep_ids=False, sources=moved)


def _commit(
    target: BuildTarget, plan: BuildPlan, previous: Index | None, written: SegmentInfo | None, embedded: int,
    model: ModelInfo,
) -> BuildReport:  # fmt: skip
    """Record deletions beside the previous segments, merge if they piled up, switch the commit point, remove
    what it no longer names and drop the embedding-cache entries of deleted passages."""
    index_dir, settings = target.index_dir, target.settings
    segments, dropped_keys = _record_deletions(target, previous, [*plan.removed, *plan.moved])
    if written is not None:
        segments.append(written)
    segments = _merged(target, previous, segments)
    next_chunk = max([previous.manifest.next_chunk if previous else 1, *(s.last_chunk + 1 for s in segments)])
    counts = {
        "documents": sum(s.live_documents for s in segments),
        "chunks": sum(s.live_chunks for s in segments),
        "skipped": len(plan.skipped),
    }
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        build_id=target.build_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - target.started, 3),
        model=model,
        chunking=ChunkingInfo.from_settings(settings),
        lexical=LexicalInfo.from_settings(settings),
        corpus_roots=target.corpus_roots(previous),
        counts=counts,
        segments=segments,
        next_chunk=next_chunk,
        versions=_library_versions(),
    )
    write_manifest(index_dir, manifest)
    _remove_unreferenced(index_dir, manifest)
    _prune_cache(target, manifest, dropped_keys if previous is not None else None)
    logger.info("index %s written to %s (%d segments)", target.build_id, index_dir, len(segments))
    return BuildReport(
        index_dir=index_dir,
        documents=counts["documents"],
        chunks=counts["chunks"],
        skipped=plan.skipped,
        seconds=time.perf_counter() - target.started,
        manifest=manifest,
        added=plan.fresh - len(plan.changed),
        updated=len(plan.changed),
        removed=len(plan.gone),
        unchanged=plan.unchanged,
        kept=plan.kept,
        embedded=embedded,
        rebuilt=previous is None,
    )


def _record_deletions(
    target: BuildTarget, previous: Index | None, doc_ids: list[str]
) -> tuple[list[SegmentInfo], list[str]]:
    """The previous segments with the passages of ``doc_ids`` added to their deletions (a new deletion file for
    each segment that holds one), and the embedding-cache keys of those passages."""
    if previous is None:
        return [], []
    infos, keys = [], []
    for segment in previous.segments:
        live = segment.live_documents(segment.live())
        ranges = [r for r in segment.store.ranges_of(doc_ids) if live[r.number]] if doc_ids else []
        if not ranges:
            infos.append(segment.info)
            continue
        deleted = np.union1d(
            segment.deleted, np.concatenate([r.first_chunk + np.arange(r.n_chunks) for r in ranges])
        ).astype(np.int64)
        path = segment.folder / f"deleted-{target.build_id}.npy"
        np.save(path, deleted)
        for r in ranges:
            keys.extend(segment.store.cache_keys(r.first_chunk, r.first_chunk + r.n_chunks - 1))
        infos.append(replace(
            segment.info, deletions=file_info(target.index_dir, path), deleted_chunks=len(deleted),
            deleted_documents=segment.info.deleted_documents + len(ranges),
        ))  # fmt: skip
    return infos, keys


def _merged(target: BuildTarget, previous: Index | None, segments: list[SegmentInfo]) -> list[SegmentInfo]:
    """``segments`` with the runs the merge policy picks replaced by their merges."""
    groups = merge_groups(segments, target.settings.max_segments)
    if not groups:
        return segments
    opened = {s.info.name: s for s in previous.segments} if previous else {}
    layout = target.layout()
    result = list(segments)
    for number, group in reversed(list(enumerate(groups))):
        members = []
        try:
            for n in group:
                info = segments[n]
                known = opened.get(info.name)
                members.append(known.with_deletions(info, target.index_dir) if known else Segment.open(
                    target.index_dir, info, layout.hnsw))  # fmt: skip
            name = f"seg-{target.build_id}-merge{number}"
            merged = merge(members, lambda first, name=name: SegmentWriter(target.index_dir, name, layout, first))
        finally:
            for member in members:
                member.release()
        result[group[0] : group[-1] + 1] = [merged] if merged.chunks else []  # all deleted: nothing left
    return result


def _prune_cache(target: BuildTarget, manifest: Manifest, dropped_keys: list[str] | None) -> None:
    """Keep the embedding cache to what the index uses: after a full build of the index's own cache, every entry
    its segments do not name goes; after an update, the entries of deleted passages that the update did not
    embed again go. A cache shared between indexes (``cache_path``) only loses deleted passages' entries."""
    own = target.cache_path == target.index_dir / CACHE_NAME
    if dropped_keys is None and not own:
        return
    stores = [target.index_dir / s.name / "store.sqlite" for s in manifest.segments]
    cache = EmbeddingCache(target.cache_path)
    try:
        removed = cache.prune(stores, dropped_keys)
    finally:
        cache.close()
    logger.info("embedding cache: %d entries no longer used removed", removed)


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


def _chunk(documents: list[Document], chunker: Chunker, plan: BuildPlan) -> tuple[list[Document], list[Chunk]]:
    """Chunks of the documents to (re-)index; a document with no text after its header is skipped."""
    kept: list[Document] = []
    chunks: list[Chunk] = []
    for document in documents:
        try:
            doc_chunks = chunker.chunk(document)
        except Exception as exc:  # one document the chunker cannot cut must not end the run
            logger.warning("could not chunk %s", document.source, exc_info=True)
            plan.skipped.append(
                SkippedFile(document.source, f"could not be cut into passages ({type(exc).__name__}: {exc})")
            )
            plan.unindexable(document.doc_id)
            continue
        if not doc_chunks:
            plan.skipped.append(SkippedFile(document.source, "no text to index after the header"))
            plan.unindexable(document.doc_id)
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
    whole. Anything else means a full rebuild (said in the log, never an error). Opened on its own segments
    whatever the vector store: a build never searches, and the store is brought in step after it."""
    try:
        index = open_index(index_dir, own_vectors(settings), deferred=True)
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
    keep = {info.name for info in manifest.files.values()} if manifest else set()
    folders = {name.split("/")[0] for name in keep}
    for path in index_dir.iterdir():
        if not path.name.startswith(BUILD_PREFIXES):
            continue
        if path.name in folders:  # a segment in use: only deletion lists it no longer has go
            for deletions in path.glob("deleted-*.npy"):
                if f"{path.name}/{deletions.name}" not in keep:
                    deletions.unlink(missing_ok=True)
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


BUILD_PREFIXES = ("seg-", "chunks-", "vectors-", "lexical-", "documents-")
"""Names of build files: segments, and the single-build files of format 5 and before (removed on rebuild)."""


def _library_versions() -> dict[str, str]:
    versions = {}
    for package in ("rag-search", "faiss-cpu", "sentence-transformers", "torch", "transformers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
