"""Dense search over the index's own segments (the default store): each segment's vectors searched exactly or
through its FAISS HNSW graph (``rag.index.vectors``), the results merged into one ranking by chunk id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import faiss
import numpy as np

from rag.index.dense.location import StoreStatus

if TYPE_CHECKING:
    from rag.index.reader import Index, Selection


class SegmentSearch:
    """Inner-product search over every segment's vectors, merged into one ranking by chunk id."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def __len__(self) -> int:
        return self.index.live_count

    def status(self) -> StoreStatus:
        return StoreStatus("index", str(self.index.directory), self.index.live_count)

    def close(self) -> None:
        """The segments close with the index."""

    def search(self, queries: np.ndarray, k: int, allowed: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, ids)`` per query, best first, equal scores by the smaller id; ``-1`` pads ids (and
        ``0`` scores) where fewer passages may be returned. Each query is searched alone, so a question gets the
        same results alone as in a batch."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        # OpenMP's thread count is per thread: a server's worker threads start with one per core and contend
        # (README: 110 ms against 13 ms per search over HTTP before it was set in each of them)
        faiss.omp_set_num_threads(self.index.settings.faiss_threads)
        masks = self.index.segment_masks(allowed)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, query in enumerate(queries):
            found_scores, found_ids = [], []
            for segment, mask in zip(self.index.segments, masks, strict=True):
                if len(segment) == 0 or (mask is not None and not mask.any()):
                    continue
                values, positions = segment.vectors.search(query, k, mask)
                found_scores.append(values)
                found_ids.append(np.asarray(segment.ids)[positions])
            if not found_scores:
                continue
            values, chunk_ids = np.concatenate(found_scores), np.concatenate(found_ids)
            order = np.lexsort((chunk_ids, -values))[:k]
            scores[row, : len(order)], ids[row, : len(order)] = values[order], chunk_ids[order]
        return scores, ids
