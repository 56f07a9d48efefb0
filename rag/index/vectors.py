"""The vector layer: exact inner-product search over normalised vectors with FAISS, keyed by int64 chunk ids.

It speaks arrays only: ``(scores, ids)`` out, ``(ids, vectors)`` in; text lives in the metadata store. The index is
ID-mapped so the chunks of one file can be removed without a rebuild.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    """A FAISS ``IndexIDMap2`` over a flat inner-product index (exact search; fine to a few million vectors)."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        self.dimension = dimension
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if self.index.d != dimension:
            raise ValueError(f"FAISS index has dimension {self.index.d}, expected {dimension}")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (n, dimension) under the int64 ``ids`` (n,)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors must have shape (n, {self.dimension}), got {vectors.shape}")
        if ids.shape != (vectors.shape[0],):
            raise ValueError(f"ids must have shape ({vectors.shape[0]},), got {ids.shape}")
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors with these ids; return how many were removed."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, ids)`` per query, best first; ties broken by the smaller id; ``-1`` pads ids where
        the index holds fewer than ``k`` vectors. With ``allowed_ids``, only those ids are searched (exactly, not
        by filtering a longer list afterwards)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise ValueError(f"queries must have shape (n, {self.dimension}), got {queries.shape}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if allowed_ids is None:
            scores, ids = self.index.search(queries, k)
        else:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            scores, ids = self.index.search(queries, k, params=faiss.SearchParameters(sel=selector))
        order = np.lexsort((np.where(ids < 0, np.iinfo(np.int64).max, ids), -scores), axis=1)
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorIndex:
        return cls(dimension, faiss.read_index(str(path)))
