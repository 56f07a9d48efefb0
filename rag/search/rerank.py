"""Reranking: a cross-encoder reads the question with each candidate passage and rescores the top candidates.

Off by default: no PyPI package ships a cross-encoder, and the hub is never contacted. Point ``RAG_RERANKER`` at a
local sentence-transformers CrossEncoder folder (or a model already in the local Hugging Face cache).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from rag.embedding import resolve_model_path
from rag.errors import ModelLoadError

logger = logging.getLogger(__name__)


class Reranker:
    """Scores ``(question, passage)`` pairs with one loaded cross-encoder; higher is more relevant."""

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        from sentence_transformers import CrossEncoder

        self.name = model
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        try:
            self.model = CrossEncoder(self.path, device=device, local_files_only=True)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load cross-encoder {model!r} (looked in {self.path!r}): {exc}. Set RAG_RERANKER to a local "
                "CrossEncoder folder, or unset it to search without reranking."
            ) from exc

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float64)
        scores = self.model.predict(
            [(query, passage) for passage in passages], batch_size=self.batch_size, show_progress_bar=False
        )
        return np.asarray(scores, dtype=np.float64).reshape(len(passages))
