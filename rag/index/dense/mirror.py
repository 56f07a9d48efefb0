"""A build bringing a Milvus collection in step with the commit point it has just written.

The index folder is written first, as for FAISS; then the collection gets the vectors of the passages the build
added and loses those it deleted (chunk ids never come back, so the difference of the two builds' live ids is the
whole change), and a marker file records which build the collection now holds. Readers serve a build only once
the marker names it. A build that finds the marker naming another build than the one before it (an interrupted
write, a new collection, another store) writes every live vector and deletes every other id: in step again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rag.errors import RagError, VectorStoreError
from rag.index.dense import own_vectors
from rag.index.dense.marker import StoreMarker, read_marker, write_marker
from rag.index.dense.milvus import WRITE_BATCH, MilvusCollection
from rag.index.manifest import read_manifest
from rag.index.reader import Index, open_index
from rag.index.segment import live_chunk_ids
from rag.index.vectors import HnswParameters
from rag.settings import Settings, StoreLocation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MirrorReport:
    store: str
    """Which store, as ``StoreLocation`` shows it (no credentials)."""
    added: int
    deleted: int
    resynced: bool
    """True when the whole collection was rewritten (it was not in step with the build before)."""


class VectorMirror:
    """Taken before a build (the live chunk ids of the build the collection holds, when it holds the current
    one), applied after it."""

    def __init__(self, index_dir: Path, settings: Settings, location: StoreLocation, before: np.ndarray | None):
        self.index_dir, self.settings, self.location, self.before = index_dir, settings, location, before

    @property
    def shown(self) -> str:
        return f"Milvus collection {self.settings.milvus_collection!r} ({self.location})"

    @classmethod
    def before_build(cls, index_dir: Path, settings: Settings) -> VectorMirror | None:
        """None for the index's own store (its segments are its vectors)."""
        location = StoreLocation.parse(settings.vector_store)
        if not location.is_milvus:
            return None
        return cls(index_dir, settings, location, _live_ids_in_step(index_dir, settings))

    def after_build(self, progress: bool = False) -> MirrorReport:
        """Bring the collection in step with the index's current build, then write the marker naming it. A
        collection that does not hold what the marker says (another server, a dropped collection) or that counts
        otherwise after an update is rewritten whole."""
        marker = read_marker(self.index_dir)
        named = _names(marker, self.settings, self.location)
        before = self.before if named else None
        with (
            open_index(self.index_dir, own_vectors(self.settings), deferred=True) as index,
            MilvusCollection.connect(self.location, self.settings) as collection,
        ):
            manifest, live = index.manifest, index.ids[index.live]
            if not self._ready(collection, manifest.model.dimension):
                before = None
            elif named and marker.build_id == manifest.build_id and collection.count() == marker.chunks:
                return MirrorReport(self.shown, 0, 0, resynced=False)  # in step already
            added, deleted = self._write(index, collection, live, before, progress)
            resynced = before is None
            held = collection.count()
            if held != len(live) and not resynced:  # the collection was not what the marker said
                logger.warning("Milvus collection %s counts otherwise than the index: rewriting it", collection.name)
                added, deleted = self._write(index, collection, live, None, progress)
                resynced, held = True, collection.count()
            if held != len(live):
                raise VectorStoreError(
                    f"Milvus collection {collection.name!r} holds {held} vectors after the build, the index "
                    f"{len(live)}; run rag index again to write it whole"
                )
            if not collection.wait_until_indexed():
                logger.warning("Milvus is still indexing collection %s: searches may miss some answers until "
                               "it is done", collection.name)  # fmt: skip
            written_at = collection.last_write() or (marker.written_at if marker else 0)
        stored = StoreMarker(collection.name, manifest.build_id, len(live), written_at, self.location.kind)
        write_marker(self.index_dir, stored, manifest)
        logger.info("Milvus collection %s: %d vectors written, %d deleted", collection.name, added, deleted)
        return MirrorReport(self.shown, added, deleted, resynced=resynced)

    def _ready(self, collection: MilvusCollection, dimension: int) -> bool:
        """The collection exists for vectors of ``dimension`` and is loaded; False when it had to be made (a
        collection of another dimension is dropped first)."""
        found = collection.dimension()
        if found is not None and found != dimension:
            logger.warning("Milvus collection %s holds %d-dimensional vectors: dropped", collection.name, found)
            collection.drop()
            found = None
        if found is None:
            collection.create(dimension, HnswParameters.from_settings(self.settings))
        collection.load()
        return found is not None

    def _write(
        self, index: Index, collection: MilvusCollection, live: np.ndarray, before: np.ndarray | None, progress: bool
    ) -> tuple[int, int]:
        """Deletes, then writes: the difference from ``before`` (the live ids the collection held), or without it
        every live vector, and every other id the collection holds deleted. Returns (written, deleted)."""
        if before is None:
            held = collection.chunk_ids(index.manifest.next_chunk)
            added, deleted = live, np.setdiff1d(held, live, assume_unique=True)
        else:
            added = np.setdiff1d(live, before, assume_unique=True)
            deleted = np.setdiff1d(before, live, assume_unique=True)
        collection.delete(deleted)
        _upsert(index, collection, added, progress)
        collection.flush()
        return len(added), len(deleted)


def _names(marker: StoreMarker | None, settings: Settings, location: StoreLocation) -> bool:
    """Whether the marker speaks of this collection on this kind of store."""
    return marker is not None and marker.names(settings.milvus_collection, location.kind)


def _live_ids_in_step(index_dir: Path, settings: Settings) -> np.ndarray | None:
    """The live chunk ids of the current build when the collection holds it, else None (write it all)."""
    marker = read_marker(index_dir)
    try:
        manifest = read_manifest(index_dir)
    except RagError:
        return None
    if not _names(marker, settings, StoreLocation.parse(settings.vector_store)) or marker.build_id != manifest.build_id:
        return None
    try:
        ids = [live_chunk_ids(index_dir, info) for info in manifest.segments]
    except (OSError, ValueError):
        return None
    return np.sort(np.concatenate(ids)) if ids else np.zeros(0, dtype=np.int64)


def _upsert(index: Index, collection: MilvusCollection, chunk_ids: np.ndarray, progress: bool) -> None:
    """The vectors of ``chunk_ids``, read segment by segment from the index, written to the collection."""
    bar = tqdm(total=len(chunk_ids), desc="writing to Milvus", unit="vector", disable=not progress)
    try:
        for segment in index.segments:
            wanted = np.flatnonzero(np.isin(segment.ids, chunk_ids, assume_unique=True))
            for first in range(0, len(wanted), WRITE_BATCH):
                positions = wanted[first : first + WRITE_BATCH]
                collection.upsert(np.asarray(segment.ids)[positions], np.asarray(segment.vectors.vectors[positions]))
                bar.update(len(positions))
    finally:
        bar.close()
