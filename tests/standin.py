"""A stand-in for the real embedding model, made on the spot for the fast tests.

It is a one-layer BERT with random weights (fixed seed) and the real model's tokenizer, saved as a
sentence-transformers folder with mean pooling, so ``rag.embedding.Embedder`` loads it like any model: the same
tokens, the same 256-token limit and the same offsets, at a fraction of the cost. Its token embeddings are random
vectors and its layer passes them through unchanged (attention and feed-forward outputs are zero, no position
embeddings), so a text's vector is the mean of its tokens' random vectors: texts that share words are close, as
with any sensible model, and a search still finds the passage that has the question's words. It knows nothing
else, so tests of retrieval quality keep the real model.
"""

from __future__ import annotations

from pathlib import Path

STANDIN_DIMENSION = 128
"""Not the real model's 384, so that a stand-in index can never pass for a real one."""


def make_standin_model(folder: Path, *, seed: int = 0, dimension: int = STANDIN_DIMENSION, layers: int = 1) -> Path:
    """Write the stand-in model to ``folder`` (which must not exist) and return it; ``layers=0`` leaves only the
    embeddings (``benchmarks/scale.py``: everything but the model is timed)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rag.embedding import resolve_model_path
    from rag.settings import DEFAULT_MODEL

    real = resolve_model_path(DEFAULT_MODEL)
    config = BertConfig.from_pretrained(
        real, hidden_size=dimension, num_hidden_layers=layers, num_attention_heads=1, intermediate_size=32
    )
    torch.manual_seed(seed)
    bert = BertModel(config)
    with torch.no_grad():
        bert.embeddings.word_embeddings.weight.normal_(0.0, 1.0)
        bert.embeddings.position_embeddings.weight.zero_()
        bert.embeddings.token_type_embeddings.weight.zero_()
        for layer in bert.encoder.layer:
            for output in (layer.attention.output.dense, layer.output.dense):
                output.weight.zero_()
                output.bias.zero_()
    transformer_folder = folder.with_name(folder.name + "-transformer")
    bert.save_pretrained(transformer_folder)
    AutoTokenizer.from_pretrained(real).save_pretrained(transformer_folder)
    modules = [
        Transformer(str(transformer_folder), max_seq_length=256),
        Pooling(dimension, pooling_mode="mean"),
        Normalize(),
    ]
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder
