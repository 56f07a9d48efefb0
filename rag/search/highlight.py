"""The answering sentence: in each returned passage, the sentence most similar to the question, as a span of the
source text (the same contract as a citation: ``source_text[start:end]`` is the sentence shown).

Sentence vectors are made at index time from each passage's own token embeddings (see
``Embedder.embed_passages_with_sentences``), so marking the sentence costs a dot product, not a model call.
"""

from __future__ import annotations

import numpy as np

from rag.types import SentenceVectors, Span


def best_sentence(query_vector: np.ndarray, sentences: SentenceVectors) -> tuple[Span, float]:
    """The sentence whose vector is closest to the question's (the first one on a tie), and its cosine
    similarity (the vectors are normalised)."""
    similarities = sentences.vectors @ np.asarray(query_vector, dtype=np.float32)
    best = int(np.argmax(similarities))
    start, end = sentences.spans[best]
    return Span(start, end), float(similarities[best])
