"""The vector layer of one segment: normalised float32 vectors by position, searched by inner product.

A segment below ``Settings.hnsw_threshold`` vectors is searched exactly (a memory-mapped ``.npy`` and one matrix
product per question); a larger one gets a FAISS HNSW graph, whose parameters the README's scale table justifies
(recall@10 against exact search). Positions, not chunk ids, cross this layer: the segment maps them.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from rag.settings import Settings

logger = logging.getLogger(__name__)

GATHER_FRACTION = 0.1
"""Exact search under a filter that keeps less than this share gathers the kept vectors first; above it, scoring
every vector and masking is faster (a random gather reads as much memory, badly)."""
EXACT_FRACTION = 0.1
"""A filter that keeps less than this share of an HNSW segment is searched exactly over the kept vectors: a graph
walk that must skip 90% of the nodes it meets loses recall and time (``benchmarks/scale.py``: a source filter
keeping 5% of a million passages took 200 ms through the graph)."""


@dataclass(frozen=True)
class HnswParameters:
    """Graph degree and search breadths of the HNSW index: recall@10 >= 0.975 against exact search on a million
    real-model vectors (``benchmarks/ann_recall.py``; efConstruction 80 reached only 0.90-0.95 there)."""

    m: int = 32
    ef_construction: int = 200
    ef_search: int = 192

    @classmethod
    def from_settings(cls, settings: Settings) -> HnswParameters:
        return cls(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search)


class SegmentVectors:
    """Vectors of one segment, exact or HNSW; ``search`` returns local positions."""

    def __init__(self, vectors: np.ndarray, graph: faiss.Index | None = None, hnsw: HnswParameters | None = None):
        self.vectors = vectors
        self.graph = graph
        self.hnsw = hnsw or HnswParameters()

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def approximate(self) -> bool:
        return self.graph is not None

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` positions for one query vector and their scores, best first, equal scores by the smaller
        position; ``allowed``: a boolean mask of the positions that may be returned (None: all)."""
        if self.graph is not None:
            kept = len(self) if allowed is None else int(allowed.sum())
            if kept >= EXACT_FRACTION * len(self):
                return self._search_graph(query, k, allowed, kept)
        return self._search_exact(query, k, allowed)

    def _search_exact(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        kept = len(self) if allowed is None else int(np.count_nonzero(allowed))
        if allowed is None or kept >= GATHER_FRACTION * len(self):  # scoring every vector is cheaper than gathering
            positions = None
            scores = self.vectors @ query
            if allowed is not None:
                scores = np.where(allowed, scores, -np.inf).astype(np.float32)
        else:
            positions = np.flatnonzero(allowed)
            scores = self.vectors[positions] @ query if len(positions) else np.zeros(0, dtype=np.float32)
        k = min(k, kept)
        if k == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        floor = np.partition(scores, len(scores) - k)[len(scores) - k]
        top = np.flatnonzero(scores >= floor)
        chosen = top[np.lexsort((top, -scores[top]))][:k]
        found = chosen if positions is None else positions[chosen]
        return scores[chosen].astype(np.float32), found.astype(np.int64)

    def _search_graph(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, kept: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # A filter that keeps a share f of the nodes needs a walk about 1/f times wider for the same recall.
        breadth = max(self.hnsw.ef_search, k, int(self.hnsw.ef_search * len(self) / max(kept, 1)))
        params = faiss.SearchParametersHNSW(efSearch=min(breadth, 4096))
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        scores, positions = self.graph.search(query.reshape(1, -1), min(k, len(self)), params=params)
        keep = positions[0] >= 0
        scores, positions = scores[0][keep], positions[0][keep]
        order = np.lexsort((positions, -scores))
        return scores[order].astype(np.float32), positions[order].astype(np.int64)

    @classmethod
    def load(
        cls, folder: Path, count: int, hnsw: HnswParameters | None = None, *, deferred: bool = False
    ) -> SegmentVectors:
        """Memory-mapped: an exact segment's raw float32 file, an HNSW segment's stored vectors (only its graph is
        read into memory; ``deferred``: on first use, as a build that only reads the store never uses it)."""
        graph_path = folder / GRAPH_NAME
        if graph_path.exists():
            return DeferredGraph(graph_path, count, hnsw) if deferred else cls(*_read_graph(graph_path), hnsw)
        if count == 0:
            return cls(np.zeros((0, 0), dtype=np.float32), None, hnsw)
        vectors = np.asarray(np.memmap(folder / VECTORS_NAME, dtype=np.float32, mode="r"))  # a plain view: faster
        return cls(vectors.reshape(count, -1), None, hnsw)


class DeferredGraph(SegmentVectors):
    """An HNSW segment whose graph file is read when it is first searched or copied: a sync of a million passages
    reads 4 s of graphs it never uses otherwise."""

    def __init__(self, path: Path, count: int, hnsw: HnswParameters | None = None):
        self.path, self.count, self.hnsw = path, count, hnsw or HnswParameters()
        self._read: tuple[np.ndarray, faiss.Index] | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> tuple[np.ndarray, faiss.Index]:
        with self._lock:
            if self._read is None:
                self._read = _read_graph(self.path)
            return self._read

    @property
    def vectors(self) -> np.ndarray:  # type: ignore[override]
        return self._loaded()[0]

    @property
    def graph(self) -> faiss.Index:  # type: ignore[override]
        return self._loaded()[1]

    def __len__(self) -> int:
        return self.count

    @property
    def approximate(self) -> bool:
        return True


def _read_graph(path: Path) -> tuple[np.ndarray, faiss.Index]:
    graph = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    return _stored_vectors(graph), graph


VECTORS_NAME = "vectors.f32"
"""A segment's vectors, row after row (written as they stream in; an HNSW segment keeps them in its graph file)."""
GRAPH_NAME = "hnsw.faiss"


def build_graph(folder: Path, count: int, hnsw: HnswParameters) -> Path:
    """Replace a segment's raw vectors by an HNSW graph over them (the vectors go inside it); returns its path."""
    path = folder / VECTORS_NAME
    dimension = path.stat().st_size // 4 // count
    logger.info("building an HNSW graph over %d vectors (M=%d, efConstruction=%d)", count, hnsw.m, hnsw.ef_construction)
    graph = faiss.IndexHNSWFlat(dimension, hnsw.m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = hnsw.ef_construction
    searching_threads = faiss.omp_get_max_threads()  # the process may keep one per search: a build uses every core
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        for first in range(0, count, 100_000):  # read in slices: the graph holds its own copy of the vectors
            rows = min(100_000, count - first)
            graph.add(np.fromfile(path, np.float32, rows * dimension, offset=first * dimension * 4).reshape(rows, -1))
    finally:
        faiss.omp_set_num_threads(searching_threads)
    graph_path = folder / GRAPH_NAME
    faiss.write_index(graph, str(graph_path))
    path.unlink()
    return graph_path


def _stored_vectors(graph: faiss.Index) -> np.ndarray:
    """The vectors an ``IndexHNSWFlat`` stores, as an array view (no copy), for exact search under narrow filters
    and for merges."""
    storage = faiss.downcast_index(graph.storage)
    flat = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d)
    view = np.asarray(flat).reshape(storage.ntotal, storage.d)
    view.flags.writeable = False
    return view
