"""Embedding backends: OpenVINO gives torch's vectors (passages, sentence vectors pooled from token embeddings,
queries), converts the model once into a cache folder and never writes to the model folder; a backend that cannot
run says what to install. The OpenVINO tests use the stand-in model and skip when openvino is not installed."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rag.embedding import Embedder
from rag.errors import ModelLoadError
from rag.settings import Settings

TEXTS = [
    "The cat sat on the mat. It was a warm day in the garden.",
    "Protein folding is hard to predict. Models trained on structures help. A lot.",
    "Short text.",
]
SPANS = [[(0, 23), (24, 56)], [(0, 34), (35, 71), (72, 78)], [(0, 11)]]
QUERIES = ["where did the cat sit?", "how are protein structures predicted"]


def _vectors(embedder: Embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    passages, sentences = embedder.embed_passages_with_sentences(TEXTS, SPANS)
    return passages, np.concatenate(sentences), embedder.embed_queries(QUERIES)


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def torch_vectors(standin_model: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stand-in's vectors on torch, the reference of the OpenVINO tests (which skip here without openvino)."""
    pytest.importorskip("openvino")
    return _vectors(Embedder(str(standin_model)))


def test_missing_openvino_says_what_to_install(monkeypatch: pytest.MonkeyPatch, standin_model: Path) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(ModelLoadError, match="pip install openvino") as caught:
        Embedder(str(standin_model), backend="openvino")
    assert "\n" not in str(caught.value)


def test_onnx_backend_is_refused_with_an_alternative(standin_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="RAG_BACKEND=openvino") as caught:
        Embedder(str(standin_model), backend="onnx")
    assert "\n" not in str(caught.value)


def test_from_settings_passes_backend_and_precision(
    monkeypatch: pytest.MonkeyPatch, standin_model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("openvino")
    monkeypatch.setenv("HOME", str(tmp_path))  # the default cache folder is under the home folder
    settings = Settings(model=str(standin_model), backend="openvino", backend_precision="bf16", _env_file=None)
    embedder = Embedder.from_settings(settings)
    assert (embedder.backend, embedder.precision, embedder.name) == ("openvino", "bf16", str(standin_model))
    assert len(list(tmp_path.glob(".cache/rag/openvino/*/model.xml"))) == 1


def test_openvino_f32_gives_torch_vectors(standin_model: Path, tmp_path: Path, torch_vectors) -> None:
    pytest.importorskip("openvino")
    before = _files(standin_model)
    embedder = Embedder(str(standin_model), backend="openvino", precision="f32", cache_dir=tmp_path)
    for ours, reference in zip(_vectors(embedder), torch_vectors, strict=True):
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert _files(standin_model) == before  # converted into the cache, never beside the model
    assert len(list(tmp_path.glob("openvino/*/model.xml"))) == 1


def test_openvino_bf16_vectors_are_close_to_torch(standin_model: Path, tmp_path: Path, torch_vectors) -> None:
    pytest.importorskip("openvino")
    embedder = Embedder(str(standin_model), backend="openvino", precision="bf16", cache_dir=tmp_path)
    for ours, reference in zip(_vectors(embedder), torch_vectors, strict=True):
        assert np.min(np.sum(ours * reference, axis=1)) > 0.999


def test_conversion_is_cached_and_reused(
    monkeypatch: pytest.MonkeyPatch, standin_model: Path, tmp_path: Path, torch_vectors
) -> None:
    openvino = pytest.importorskip("openvino")
    Embedder(str(standin_model), backend="openvino", cache_dir=tmp_path)
    cached = _files(tmp_path)

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again instead of loading the cached graph")

    monkeypatch.setattr(openvino, "convert_model", no_conversion)
    embedder = Embedder(str(standin_model), backend="openvino", precision="bf16", cache_dir=tmp_path)
    assert _files(tmp_path) == cached  # one graph for every precision: precision is chosen when compiling
    np.testing.assert_allclose(_vectors(embedder)[0], torch_vectors[0], atol=0.01)


def test_unwritable_cache_still_loads(standin_model: Path, tmp_path: Path, torch_vectors) -> None:
    pytest.importorskip("openvino")
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    embedder = Embedder(str(standin_model), backend="openvino", cache_dir=blocked)
    np.testing.assert_allclose(_vectors(embedder)[2], torch_vectors[2], atol=1e-5)


def test_openvino_queries_from_several_threads(standin_model: Path, tmp_path: Path) -> None:
    """The service embeds questions on several threads at once: each call gets its own inference request."""
    pytest.importorskip("openvino")
    embedder = Embedder(str(standin_model), backend="openvino", cache_dir=tmp_path)
    questions = [f"question number {i} about {word}" for i, word in enumerate(["cats", "proteins", "gardens"] * 8)]
    alone = [embedder.embed_queries([q])[0] for q in questions]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda q: embedder.embed_queries([q])[0], questions))
    np.testing.assert_array_equal(np.stack(together), np.stack(alone))
