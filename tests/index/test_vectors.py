"""The FAISS layer against a NumPy brute-force reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.index.vectors import VectorIndex


def normalised(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ vectors.T
    order = np.lexsort((np.broadcast_to(ids, scores.shape), -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def test_search_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors, queries = normalised(rng, 500, 32), normalised(rng, 20, 32)
    ids = rng.permutation(np.arange(1000, 1500, dtype=np.int64))
    index = VectorIndex(32)
    index.add(ids, vectors)
    scores, found = index.search(queries, 10)
    expected_scores, expected_ids = brute_force(vectors, ids, queries, 10)
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)


def test_ties_are_broken_by_smaller_id() -> None:
    index = VectorIndex(4)
    same = np.array([[1, 0, 0, 0]] * 3, dtype=np.float32)
    index.add(np.array([30, 10, 20]), same)
    _, ids = index.search(np.array([[1, 0, 0, 0]], dtype=np.float32), 3)
    assert ids.tolist() == [[10, 20, 30]]


def test_remove_save_and_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = normalised(rng, 50, 8)
    index = VectorIndex(8)
    index.add(np.arange(50), vectors)
    assert index.remove(np.array([0, 1, 2, 999])) == 3
    assert len(index) == 47
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", 8)
    _, ids = loaded.search(vectors[:3], 1)
    assert not set(ids.ravel()) & {0, 1, 2}
    _, ids = loaded.search(vectors[10:11], 1)
    assert ids.tolist() == [[10]]


def test_fewer_vectors_than_k_pads_with_minus_one() -> None:
    index = VectorIndex(4)
    index.add(np.array([7]), np.array([[0, 1, 0, 0]], dtype=np.float32))
    _, ids = index.search(np.array([[0, 1, 0, 0]], dtype=np.float32), 3)
    assert ids.tolist() == [[7, -1, -1]]


def test_shape_errors_are_clear() -> None:
    index = VectorIndex(4)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        index.add(np.array([1]), np.zeros((1, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(np.zeros((1, 4), dtype=np.float32), 0)
