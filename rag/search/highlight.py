"""The answering sentence: in each returned passage, the sentence most similar to the question, as a span of the
source text (the same contract as a citation: ``source_text[start:end]`` is the sentence shown).

Sentence vectors are made at index time from each passage's own token embeddings (see
``Embedder.embed_passages_with_sentences``), so marking the sentence costs a dot product, not a model call.
"""

from __future__ import annotations

import numpy as np

from rag.types import SentenceVectors, Span


def best_sentence(query_vector: np.ndarray, sentences: SentenceVectors) -> Span:
    """The sentence whose vector is closest to the question's (the first one on a tie)."""
    similarities = sentences.vectors @ np.asarray(query_vector, dtype=np.float32)
    start, end = sentences.spans[int(np.argmax(similarities))]
    return Span(start, end)
