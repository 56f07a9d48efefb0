"""Embedding on a Ray cluster: the build's passages are embedded by Ray actors, one model loaded per actor for the
whole build, while the driver walks the folder, chunks, and writes the index exactly as a local build does.

Persistent actors (``ray.util.ActorPool``) are used rather than one Ray Data ``map_batches`` job per batch: a build
embeds in bounded batches (``Settings.build_batch_chars``) so that memory follows the batch and not the corpus, and
each Ray Data job would start its actor pool and load the model again (about 10 s a batch here). Slices go to the
actors in order and come back in order, so chunk ids, spans and the embedding cache are those of a local build, and
the vectors equal the local ones within float rounding (same slices, same batch size).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.embedding import Embedder
from rag.errors import RagError
from rag.net import unreachable
from rag.settings import Settings

logger = logging.getLogger(__name__)

SLICE = 512
"""Passages per task sent to an actor (the local embedder's own slice, so padded batches are the same)."""


class RayUnavailableError(RagError):
    """Ray is not installed, or the cluster cannot be reached."""


class _EmbeddingWorker:
    """(Ray actor) one model on one worker, loaded once."""

    def __init__(self, settings: Settings) -> None:
        import torch

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        torch.set_num_threads(settings.ray_worker_cpus)
        self.embedder = Embedder.from_settings(settings)  # as the driver's own model is loaded

    def embed(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.embedder.embed_passages_with_sentences(texts, spans)


class RayEmbedder:
    """An ``Embedder`` whose passages are embedded on a Ray cluster; its name, tokenizer (for chunking) and queries
    come from the local model it wraps. Ray is joined (``Settings.ray_address``) or started locally when the first
    passages need embedding (a build served from the embedding cache never starts it), and let go by ``close()``."""

    def __init__(self, local: Embedder, settings: Settings) -> None:
        try:
            import ray
            from ray.util import ActorPool
        except ImportError as exc:
            raise RayUnavailableError(
                "--engine ray needs Ray: pip install 'rag-search[ray]' (or pip install ray)"
            ) from exc
        self.local = local
        self.settings = settings
        self._ray, self._actor_pool = ray, ActorPool
        self._started_ray = False
        self.actors: list[Any] = []
        self.pool: Any = None

    def _workers(self) -> Any:
        """The actor pool, started on first use: one model per actor, loaded once for the build."""
        if self.pool is not None:
            return self.pool
        ray, settings = self._ray, self.settings
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        started = time.perf_counter()
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            _start_ray(ray, settings)
        worker = ray.remote(num_cpus=settings.ray_worker_cpus)(_EmbeddingWorker)
        self.actors = [worker.remote(settings) for _ in range(settings.ray_workers)]
        self.pool = self._actor_pool(self.actors)
        logger.info(
            "Ray: %d embedding workers of %d CPU on %s (%.1f s to start)", settings.ray_workers,
            settings.ray_worker_cpus, settings.ray_address or "a local Ray", time.perf_counter() - started,
        )  # fmt: skip
        return self.pool

    def __getattr__(self, name: str) -> Any:  # name, dimension, tokenizer, vectors_of, embed_queries, ...
        if name in ("local", "settings", "pool"):  # not set yet: __init__ failed early
            raise AttributeError(name)
        return getattr(self.local, name)

    def embed_passages_with_sentences(
        self,
        texts: Sequence[str],
        sentence_spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
        slice_size: int = SLICE,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """As ``Embedder.embed_passages_with_sentences``, slices spread over the actors and gathered in order."""
        if not texts:
            return np.zeros((0, self.local.dimension), dtype=np.float32), []
        slices = [
            (list(texts[i : i + slice_size]), list(sentence_spans[i : i + slice_size]))
            for i in range(0, len(texts), slice_size)
        ]
        pool = self._workers()
        try:
            results = list(pool.map(lambda actor, part: actor.embed.remote(*part), slices))
        except self._ray.exceptions.RayError as exc:
            raise RayUnavailableError(f"a Ray embedding worker failed: {exc}") from exc
        passages = np.concatenate([vectors for vectors, _ in results])
        return passages, [s for _, sentences in results for s in sentences]

    def close(self) -> None:
        """Stop the actors, and the local Ray if this embedder started it."""
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors, self.pool = [], None
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False


def _start_ray(ray: Any, settings: Settings) -> None:
    """Join the cluster at ``settings.ray_address``, or start a local Ray sized to the workers asked for."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # else Ray 2.60 writes ~/.ray/auth_token and a join fails
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if settings.ray_address:
            _check_reachable(settings.ray_address)
            ray.init(address=settings.ray_address, **options)
        else:  # "local": never attach to a stray cluster a `ray start` left behind
            cpus = settings.ray_workers * settings.ray_worker_cpus
            ray.init(address="local", num_cpus=cpus, object_store_memory=512 * 1024**2, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = settings.ray_address or "a local Ray"
        raise RayUnavailableError(f"cannot start or join {where}: {exc}") from exc


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a cluster address nothing answers at: ``ray.init`` retries such an address for minutes."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailableError(f"Ray address {address!r} is not host:port or ray://host:port")
    if reason := unreachable(host, int(port), timeout):
        raise RayUnavailableError(f"no Ray cluster answers at {address}: {reason}")
