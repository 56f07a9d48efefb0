"""Process-wide set-up, which only the edges call (the CLI at start, the service in its lifespan): the library
itself never changes the environment or global thread counts of the process that imports it."""

from __future__ import annotations

import logging
import os

from rag.settings import Settings


def configure_process(settings: Settings) -> None:
    """No Hugging Face hub access (models load from local folders only), ``settings.faiss_threads`` OpenMP
    threads for FAISS searches made from the calling thread, and pymilvus's tracebacks kept off the terminal (its
    failures reach the user as ``VectorStoreError``, naming the store and what failed)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # Milvus Lite's in-process server: the same
    import faiss

    faiss.omp_set_num_threads(settings.faiss_threads)


def limit_service_threads(settings: Settings) -> None:
    """torch's threads for the whole service process (query embeddings): one per search, as FAISS."""
    import torch

    torch.set_num_threads(settings.faiss_threads)
