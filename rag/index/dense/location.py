"""Where dense search runs, as the ``vector_store`` setting names it, the interface every store answers through,
and what a store reports about itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

import numpy as np

if TYPE_CHECKING:
    from rag.index.reader import Selection

INDEX_STORE = "index"
LITE_PREFIX = "milvus-lite:"


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


@dataclass(frozen=True)
class StoreLocation:
    """The ``vector_store`` setting, read: ``index``, ``milvus-lite:PATH`` or a Milvus server's ``http(s)://`` URI."""

    kind: Literal["index", "milvus-lite", "milvus"]
    uri: str = ""
    """For Milvus Lite an absolute folder path ending in ``.db`` (what pymilvus opens in-process); for a server its
    URI."""

    @classmethod
    def parse(cls, setting: str) -> StoreLocation:
        """Raises ``ValueError`` for anything else (``Settings`` checks the setting with it)."""
        setting = setting.strip()
        if setting == INDEX_STORE:
            return cls("index")
        if setting.startswith(LITE_PREFIX) and setting.removeprefix(LITE_PREFIX).strip():
            path = str(Path(setting.removeprefix(LITE_PREFIX).strip()).expanduser().resolve())
            return cls("milvus-lite", path if path.endswith(".db") else f"{path}.db")
        if setting.startswith(("http://", "https://")):
            return cls("milvus", setting.rstrip("/"))
        raise ValueError(
            f"vector_store {setting!r} is not a store: use 'index', '{LITE_PREFIX}PATH' or 'http://host:19530'"
        )

    @property
    def is_milvus(self) -> bool:
        return self.kind != "index"

    @property
    def address(self) -> str:
        """The Lite folder, or the server's URI without credentials (it may hold a user and password)."""
        if self.kind != "milvus":
            return self.uri
        parts = urlsplit(self.uri)
        return parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else "")).geturl()

    def __str__(self) -> str:
        return self.kind if self.kind == "index" else f"{self.kind} at {self.address}"
