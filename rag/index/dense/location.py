"""The interface every vector store answers through, and what a store reports about itself. Where dense search
runs (``StoreLocation``, the ``vector_store`` setting read) is defined with the settings, which check it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from rag.index.reader import Selection


class VectorSearch(Protocol):
    """What an opened index searches its vectors through, whichever store holds them."""

    def __len__(self) -> int:
        """Live passages that can be found."""

    def search(self, queries: np.ndarray, k: int, allowed: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, chunk ids)`` per query by inner product, best first, equal scores by the smaller id;
        ``-1`` pads ids (``0`` scores) where fewer passages may be returned; ``allowed`` restricts to a selection."""

    def status(self) -> StoreStatus:
        """Which store answers, for ``/ready``."""

    def close(self) -> None:
        """Let go of connections (the index's own segments close with it)."""


@dataclass(frozen=True)
class StoreStatus:
    kind: Literal["index", "milvus-lite", "milvus"]
    location: str
    """The index folder, the Milvus Lite folder, or the server's address."""
    vectors: int
    """Vectors the store holds (a store being brought in step may briefly hold others than the live passages)."""
