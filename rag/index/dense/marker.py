"""The marker beside the commit point that says which build a Milvus collection holds: a build writes it once the
collection is in step, and readers serve a build only when it names it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.index.manifest import Manifest, replace_file

MARKER_NAME = "vector-store.json"


@dataclass(frozen=True)
class StoreMarker:
    """Which build a Milvus collection holds, beside the commit point."""

    collection: str
    build_id: str
    chunks: int
    written_at: int = 0
    """Milvus's timestamp of the build's last write (0: it wrote nothing); readers search as of it."""
    store: str = "milvus"
    """``milvus-lite`` or ``milvus`` (a server: replicas may reach it under other names, so no address)."""

    def names(self, collection: str, store: str) -> bool:
        """Whether the marker speaks of ``collection`` on this kind of ``store``."""
        return (self.collection, self.store) == (collection, store)


def read_marker(index_dir: Path) -> StoreMarker | None:
    try:
        return StoreMarker(**json.loads((index_dir / MARKER_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_marker(index_dir: Path, marker: StoreMarker, manifest: Manifest) -> None:
    replace_file(index_dir / MARKER_NAME, json.dumps(asdict(marker), indent=2), manifest.build_id)
