"""A segment's vector layer against a NumPy brute-force reference: exact search, and the HNSW graph's recall with
and without filters (narrow filters fall back to exact search over the kept vectors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.index.vectors import GRAPH_NAME, VECTORS_NAME, HnswParameters, SegmentVectors, build_graph


def normalised(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Vectors near an 8-dimensional subspace, as sentence embeddings are (their intrinsic dimension is low;
    uniform random vectors in 32 dimensions have no near neighbours to find)."""
    basis = np.random.default_rng(99).standard_normal((8, d)).astype(np.float32)
    x = rng.standard_normal((n, 8)).astype(np.float32) @ basis + 0.1 * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    scores = vectors @ query
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return order[np.isfinite(scores[order])]


def written(tmp_path: Path, vectors: np.ndarray) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / VECTORS_NAME).write_bytes(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return tmp_path


def test_exact_search_matches_brute_force_with_and_without_a_filter(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = normalised(rng, 500, 16)
    segment = SegmentVectors.load(written(tmp_path, vectors), len(vectors))
    assert not segment.approximate and len(segment) == 500
    allowed = rng.random(500) < 0.3
    for query in normalised(rng, 10, 16):
        scores, positions = segment.search(query, 7, None)
        assert positions.tolist() == exact(vectors, query, 7).tolist()
        assert np.allclose(scores, vectors[positions] @ query, atol=1e-6)
        _, kept = segment.search(query, 7, allowed)
        assert kept.tolist() == exact(vectors, query, 7, allowed).tolist() and allowed[kept].all()


def test_ties_are_broken_by_the_smaller_position_and_few_vectors_return_fewer(tmp_path: Path) -> None:
    vectors = np.tile(normalised(np.random.default_rng(1), 1, 8), (4, 1))
    segment = SegmentVectors.load(written(tmp_path, vectors), 4)
    assert segment.search(vectors[0], 3, None)[1].tolist() == [0, 1, 2]
    assert segment.search(vectors[0], 10, np.array([False, True, False, True]))[1].tolist() == [1, 3]


def test_hnsw_recall_against_exact_search_with_and_without_filters(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vectors = clustered(rng, 20_000, 32)
    folder = written(tmp_path, vectors)
    path = build_graph(folder, len(vectors), HnswParameters(m=16, ef_construction=64, ef_search=64))
    assert path.name == GRAPH_NAME and not (folder / VECTORS_NAME).exists()  # the vectors live in the graph file
    segment = SegmentVectors.load(folder, len(vectors), HnswParameters(m=16, ef_construction=64, ef_search=64))
    assert segment.approximate and np.array_equal(segment.vectors, vectors)
    queries = clustered(rng, 100, 32)
    broad, narrow = rng.random(len(vectors)) < 0.5, rng.random(len(vectors)) < 0.01
    for allowed, floor in ((None, 0.95), (broad, 0.95), (narrow, 1.0)):  # under 5% kept: searched exactly
        recall = np.mean([
            len(set(segment.search(q, 10, allowed)[1].tolist()) & set(exact(vectors, q, 10, allowed).tolist())) / 10
            for q in queries
        ])  # fmt: skip
        assert recall >= floor, (None if allowed is None else allowed.mean(), recall)
        if allowed is not None:
            assert all(allowed[segment.search(q, 10, allowed)[1]].all() for q in queries[:10])


@pytest.mark.parametrize("count", [0, 3])
def test_small_and_empty_segments_load(tmp_path: Path, count: int) -> None:
    vectors = normalised(np.random.default_rng(3), count, 4)
    segment = SegmentVectors.load(written(tmp_path, vectors), count)
    assert len(segment) == count
