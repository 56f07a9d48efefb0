"""Embedding passages: batches of like length in the model's tokens, vectors back in the caller's order (stand-in
model, which shares the real one's tokenizer)."""

from __future__ import annotations

import numpy as np
import pytest

KOREAN = "대한민국에서는 한국 전쟁 이전의 행정 구역을 이북 5도라 부르기도 한다."
ENGLISH = "The harbour master logs every ferry that leaves the island before the sun is up."


def test_passages_are_embedded_in_batches_of_like_token_length(
    standin_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sentence-transformers groups a call's texts by characters, and a Korean sentence takes three times the
    tokens of an English one as long: batched together, the English ones would be padded to the Korean length."""
    embedder = standin_embedder
    texts = [f"{ENGLISH} {i}" if i % 2 else f"{KOREAN} {i}" for i in range(2 * embedder.batch_size)]
    spans = [[(0, len(text))] for text in texts]
    calls: list[list[str]] = []
    encode = embedder.model.encode_document

    def recording(batch, **kwargs):
        calls.append(list(batch))
        return encode(batch, **kwargs)

    monkeypatch.setattr(embedder.model, "encode_document", recording)
    passages, sentences = embedder.embed_passages_with_sentences(texts, spans)

    def tokens(text: str) -> int:
        return len(embedder.tokenizer(text)["input_ids"])

    assert tokens(texts[0]) > 2 * tokens(texts[1])  # the premise: as many characters, far more tokens
    assert len(calls) == 2 and all(len(batch) == embedder.batch_size for batch in calls)
    padded = sum(max(map(tokens, batch)) * len(batch) for batch in calls)
    assert padded < 1.1 * sum(map(tokens, texts))
    monkeypatch.undo()
    for i in (0, 1, len(texts) - 1):  # each vector is its own text's, whatever order the batches took
        alone, alone_sentences = embedder.embed_passages_with_sentences([texts[i]], [spans[i]])
        np.testing.assert_allclose(passages[i], alone[0], atol=1e-5)
        np.testing.assert_allclose(sentences[i], alone_sentences[0], atol=1e-5)
