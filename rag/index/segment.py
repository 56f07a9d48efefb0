"""A segment: one immutable folder of the index, written whole by one build (or merge) and never changed after.

It holds a run of passages under consecutive positions, their chunk ids (ascending), and for them: the vectors
(``rag.index.vectors``), BM25 postings over passages and over whole documents (``rag.index.lexical``) and the
SQLite store of their documents, chunks and sentence vectors (``rag.index.store``). What a later build deletes
(changed and removed documents) is recorded beside it as a list of chunk ids, named by the commit point; a merge
rewrites live passages into a new segment and drops the old ones (Lucene's design).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.index.lexical import Postings
from rag.index.store import SegmentStore
from rag.index.vectors import HnswParameters, SegmentVectors

logger = logging.getLogger(__name__)

PASSAGES = "passages"
DOCUMENTS = "documents"


@dataclass(frozen=True)
class FileInfo:
    name: str
    """Path relative to the index directory."""
    sha256: str
    bytes: int


@dataclass(frozen=True)
class SegmentInfo:
    """A segment as the commit point names it: its folder, sizes, files, and the deletions recorded for it."""

    name: str
    chunks: int
    documents: int
    first_chunk: int
    last_chunk: int
    files: list[FileInfo]
    deletions: FileInfo | None = None
    deleted_chunks: int = 0
    deleted_documents: int = 0

    @property
    def live_chunks(self) -> int:
        return self.chunks - self.deleted_chunks

    @property
    def live_documents(self) -> int:
        return self.documents - self.deleted_documents

    @property
    def all_files(self) -> list[FileInfo]:
        return [*self.files, *([self.deletions] if self.deletions else [])]

    @classmethod
    def from_json(cls, raw: dict) -> SegmentInfo:
        deletions = raw.get("deletions")
        return cls(
            name=raw["name"], chunks=raw["chunks"], documents=raw["documents"], first_chunk=raw["first_chunk"],
            last_chunk=raw["last_chunk"], files=[FileInfo(**f) for f in raw["files"]],
            deletions=FileInfo(**deletions) if deletions else None, deleted_chunks=raw.get("deleted_chunks", 0),
            deleted_documents=raw.get("deleted_documents", 0),
        )  # fmt: skip


@dataclass(eq=False)
class Segment:
    """An opened segment. Several opened indexes may share it (the service keeps unchanged segments across a
    reload), so it counts its users and closes its store when the last lets go."""

    info: SegmentInfo
    folder: Path
    ids: np.ndarray
    """Chunk id of each position, ascending."""
    chunk_documents: np.ndarray
    """Number (within the segment) of each position's document."""
    vectors: SegmentVectors
    passages: Postings
    documents: Postings
    store: SegmentStore
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Chunk ids deleted since the segment was written."""
    _users: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls, index_dir: Path, info: SegmentInfo, hnsw: HnswParameters | None = None, *, deferred: bool = False
    ) -> Segment:
        """``deferred``: an HNSW graph is read on first use (see ``SegmentVectors.load``)."""
        folder = index_dir / info.name
        return cls(
            info=info,
            folder=folder,
            ids=np.load(folder / "chunk_ids.npy", mmap_mode="r"),
            chunk_documents=np.load(folder / "chunk_documents.npy", mmap_mode="r"),
            vectors=SegmentVectors.load(folder, info.chunks, hnsw, deferred=deferred),
            passages=Postings.load(folder, PASSAGES),
            documents=Postings.load(folder, DOCUMENTS),
            store=SegmentStore(folder / "store.sqlite"),
            deleted=_deletions(index_dir, info),
        )

    def with_deletions(self, info: SegmentInfo, index_dir: Path) -> Segment:
        """The same files under newer deletions (a reload where only deletions changed): shares nothing mutable,
        reuses the loaded arrays and graph, opens its own store connection."""
        return Segment(info, self.folder, self.ids, self.chunk_documents, self.vectors, self.passages, self.documents,
                       SegmentStore(self.folder / "store.sqlite"), _deletions(index_dir, info))  # fmt: skip

    def __len__(self) -> int:
        return len(self.ids)

    def live(self) -> np.ndarray:
        """A boolean mask of the positions not deleted."""
        live = np.ones(len(self.ids), dtype=bool)
        if len(self.deleted):
            live[np.searchsorted(self.ids, self.deleted)] = False
        return live

    def live_documents(self, live: np.ndarray) -> np.ndarray:
        """A boolean mask of the document numbers with live passages."""
        documents = np.zeros(len(self.documents), dtype=bool)
        documents[np.asarray(self.chunk_documents)[live]] = True
        return documents

    def acquire(self) -> Segment:
        with self._lock:
            self._users += 1
        return self

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self.store.close()


def live_chunk_ids(index_dir: Path, info: SegmentInfo) -> np.ndarray:
    """The chunk ids of a segment not deleted, read from its files without opening it."""
    ids = np.load(index_dir / info.name / "chunk_ids.npy", mmap_mode="r")
    return np.setdiff1d(ids, _deletions(index_dir, info), assume_unique=True)


def _deletions(index_dir: Path, info: SegmentInfo) -> np.ndarray:
    """The chunk ids the commit point records as deleted from a segment."""
    return np.load(index_dir / info.deletions.name) if info.deletions else np.zeros(0, dtype=np.int64)
