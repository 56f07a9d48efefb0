"""The embedding cache: keys by hand, hits and misses, only what the cache lacks is embedded (each distinct passage
once), vectors come back as the model made them, the cache is reused across calls and across opens, slices
committed before a failure are kept, and a damaged file is replaced. The model is the stand-in, watched by a
recorder that notes every text it is asked to embed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.index.embedding_cache import EmbeddingCache, cache_key, embed_with_cache

TEXTS = [
    "The harbour master logs every ferry.",
    "The orchard grows seventeen varieties of pear. They ripen in October.",
    "The glacier retreated four metres.",
]
SPANS = [[(0, 36)], [(0, 46), (47, 68)], [(0, 34)]]


class Recorder:
    """An embedder that notes each call (the texts asked for) before handing it to the real one."""

    def __init__(self, embedder, fail_on_call: int | None = None) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.vectors_of = embedder.vectors_of
        self.dimension = embedder.dimension
        self.calls: list[list[str]] = []
        self.fail_on_call = fail_on_call

    def embed_passages_with_sentences(self, texts: Sequence[str], spans, **kwargs):
        self.calls.append(list(texts))
        if self.fail_on_call == len(self.calls):
            raise RuntimeError("the model fell over")
        return self.inner.embed_passages_with_sentences(texts, spans, **kwargs)

    @property
    def embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]


@pytest.fixture
def cache(tmp_path: Path):
    opened = EmbeddingCache(tmp_path / "cache.sqlite")
    yield opened
    opened.close()


def direct(embedder, texts, spans) -> tuple[np.ndarray, list[np.ndarray]]:
    """The reference: the model asked for every text, one at a time (no batch to share padding with)."""
    results = [embedder.embed_passages_with_sentences([t], [s]) for t, s in zip(texts, spans, strict=True)]
    return np.concatenate([p for p, _ in results]), [s[0] for _, s in results]


def assert_same_vectors(got, expected) -> None:
    (passages, sentences), (want_passages, want_sentences) = got, expected
    np.testing.assert_allclose(passages, want_passages, atol=1e-5)
    for mine, theirs in zip(sentences, want_sentences, strict=True):  # sentence vectors are kept as float16
        np.testing.assert_allclose(mine, theirs.astype(np.float16).astype(np.float32), atol=2e-3)


def test_keys_are_the_hash_of_model_text_and_spans() -> None:
    payload = json.dumps(["m", "Café", [[0, 4]]], ensure_ascii=False).encode("utf-8")
    assert cache_key("m", "Café", [(0, 4)]) == hashlib.sha256(payload).hexdigest()
    keys = {cache_key("m", "Café", [(0, 4)]), cache_key("n", "Café", [(0, 4)]), cache_key("m", "Cafe", [(0, 4)])}
    keys.add(cache_key("m", "Café", [(0, 3)]))
    assert len(keys) == 4  # each part of the key matters


def test_a_cold_cache_embeds_each_distinct_passage_once(cache: EmbeddingCache, standin_embedder) -> None:
    recorder = Recorder(standin_embedder)
    texts, spans = [*TEXTS, TEXTS[0]], [*SPANS, SPANS[0]]  # the first passage twice
    passages, sentences, embedded = embed_with_cache(recorder, cache, texts, spans)
    assert embedded == 3 and sorted(recorder.embedded) == sorted(TEXTS)
    assert passages.shape == (4, standin_embedder.dimension) and passages.dtype == np.float32
    assert [s.shape for s in sentences] == [(len(s), standin_embedder.dimension) for s in spans]
    assert_same_vectors((passages, sentences), direct(standin_embedder, texts, spans))
    np.testing.assert_array_equal(passages[3], passages[0])


def test_a_warm_cache_embeds_only_what_it_lacks(cache: EmbeddingCache, standin_embedder) -> None:
    first, first_sentences, _ = embed_with_cache(Recorder(standin_embedder), cache, TEXTS[:2], SPANS[:2])
    recorder = Recorder(standin_embedder)
    other_spans = [(0, 20), (21, 36)]  # the first text again, pooled over other sentences: another key
    texts, spans = [TEXTS[1], TEXTS[2], TEXTS[0], TEXTS[0]], [SPANS[1], SPANS[2], SPANS[0], other_spans]
    passages, sentences, embedded = embed_with_cache(recorder, cache, texts, spans)
    assert embedded == 2 and recorder.embedded == [TEXTS[2], TEXTS[0]]
    np.testing.assert_array_equal(passages[0], first[1])  # hits come back exactly as stored
    np.testing.assert_array_equal(passages[2], first[0])
    np.testing.assert_array_equal(sentences[0], first_sentences[1])
    assert_same_vectors((passages, sentences), direct(standin_embedder, texts, spans))
    again = Recorder(standin_embedder)
    assert embed_with_cache(again, cache, texts, spans)[2] == 0 and again.calls == []


def test_the_cache_is_reused_across_opens_and_keyed_by_model(tmp_path: Path, standin_embedder) -> None:
    path = tmp_path / "cache.sqlite"
    with_cache = EmbeddingCache(path)
    stored, _, _ = embed_with_cache(Recorder(standin_embedder), with_cache, TEXTS, SPANS)
    with_cache.close()
    reopened = EmbeddingCache(path)
    recorder = Recorder(standin_embedder)
    passages, _, embedded = embed_with_cache(recorder, reopened, TEXTS, SPANS)
    assert embedded == 0 and recorder.calls == []
    np.testing.assert_array_equal(passages, stored)
    renamed = Recorder(standin_embedder)
    renamed.vectors_of = "another-model"
    assert embed_with_cache(renamed, reopened, TEXTS, SPANS)[2] == 3  # another model's vectors are never reused
    other_backend = Recorder(standin_embedder)
    other_backend.vectors_of = f"{standin_embedder.name} [openvino bf16]"  # nor another backend's
    assert embed_with_cache(other_backend, reopened, TEXTS, SPANS)[2] == 3
    reopened.close()


def test_slices_committed_before_a_failure_are_kept(cache: EmbeddingCache, standin_embedder) -> None:
    texts = [f"Note {n}: the lantern was relit at dawn." for n in range(5)]
    spans = [[(0, len(t))] for t in texts]
    failing = Recorder(standin_embedder, fail_on_call=3)
    with pytest.raises(RuntimeError, match="fell over"):
        embed_with_cache(failing, cache, texts, spans, slice_size=2)
    assert [len(call) for call in failing.calls] == [2, 2, 1]
    recorder = Recorder(standin_embedder)
    assert embed_with_cache(recorder, cache, texts, spans, slice_size=2)[2] == 1
    assert recorder.embedded == [texts[4]]


def test_a_damaged_cache_file_is_replaced(tmp_path: Path, standin_embedder) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    replaced = EmbeddingCache(path)
    assert replaced.get([cache_key(standin_embedder.name, TEXTS[0], SPANS[0])]) == {}
    assert embed_with_cache(Recorder(standin_embedder), replaced, TEXTS, SPANS)[2] == 3
    replaced.close()
