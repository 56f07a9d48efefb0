"""The embedding cache: vectors already computed, keyed by (model, the exact text the model saw, the sentence
spans pooled), so an unchanged passage is never embedded twice, across incremental updates and full rebuilds.

It is a cache, not part of an index build: it lives beside the builds in the index folder, can be deleted at any
time, and a damaged cache is replaced rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rag.embedding import Embedder
from rag.index.store import select_in

logger = logging.getLogger(__name__)

CACHE_NAME = "embedding-cache.sqlite"


def cache_key(model: str, text: str, spans: Sequence[tuple[int, int]]) -> str:
    payload = json.dumps([model, text, [list(s) for s in spans]], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Passage vectors (float32) and their sentence vectors (float16) in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = self._connect(path)
        except sqlite3.DatabaseError as exc:
            logger.warning("embedding cache %s unreadable (%s); starting a new one", path, exc)
            path.unlink(missing_ok=True)
            self.db = self._connect(path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER NOT NULL, passage BLOB NOT NULL, "
            "sentences BLOB NOT NULL)"
        )
        db.execute("SELECT count(*) FROM vectors").fetchone()  # fails now on a damaged file, not mid-build
        return db

    def close(self) -> None:
        self.db.close()

    def get(self, keys: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        query = "SELECT key, dim, passage, sentences FROM vectors WHERE key IN ({marks})"
        return {
            key: (
                np.frombuffer(passage, dtype=np.float32).copy(),
                np.frombuffer(sentences, dtype=np.float16).reshape(-1, dim).astype(np.float32),
            )
            for key, dim, passage, sentences in select_in(self.db, query, keys)
        }

    def put(self, keys: Sequence[str], passages: np.ndarray, sentences: Sequence[np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                [
                    (key, passages.shape[1], np.asarray(p, dtype=np.float32).tobytes(), s.astype(np.float16).tobytes())
                    for key, p, s in zip(keys, passages, sentences, strict=True)
                ],
            )

    def prune(self, stores: Sequence[Path], dropped: Sequence[str] | None) -> int:
        """Delete entries no passage of the segment ``stores`` uses: all such entries (``dropped`` None), or only
        among the ``dropped`` keys (deleted passages; checked against the last store, the new segment's). Returns
        how many entries went."""
        before = self.db.total_changes
        if dropped is not None and not dropped:
            return 0
        names = [f"segment{n}" for n in range(len(stores))] if dropped is None else ["segment0"]
        attached = stores if dropped is None else stores[-1:]
        for name, path in zip(names, attached, strict=True):
            self.db.execute(f"ATTACH DATABASE ? AS {name}", (f"file:{path}?mode=ro",))
        try:
            used = " UNION ".join(f"SELECT cache_key FROM {name}.chunks" for name in names)
            with self.db:
                if dropped is None:
                    self.db.execute(f"DELETE FROM vectors WHERE key NOT IN ({used})")
                else:
                    self.db.execute("CREATE TEMP TABLE dropped (key TEXT PRIMARY KEY)")
                    self.db.executemany("INSERT OR IGNORE INTO dropped VALUES (?)", ((k,) for k in dropped))
                    self.db.execute(
                        f"DELETE FROM vectors WHERE key IN (SELECT key FROM dropped) AND key NOT IN ({used})"
                    )
                    self.db.execute("DROP TABLE dropped")
        finally:
            for name in names:
                self.db.execute(f"DETACH DATABASE {name}")
        return self.db.total_changes - before


def embed_with_cache(
    embedder: Embedder,
    cache: EmbeddingCache,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    *,
    progress: bool = False,
    slice_size: int = 256,
    keys: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Vectors and sentence vectors of ``texts``, embedding only what the cache lacks; returns how many texts were
    embedded. New vectors are committed slice by slice, so an interrupted build keeps what it computed."""
    if keys is None:  # a build passes the keys it computed, to store them with the passages
        keys = [cache_key(embedder.vectors_of, t, s) for t, s in zip(texts, spans, strict=True)]
    known = cache.get(keys)
    first_of: dict[str, int] = {}  # each missing key and the first text that has it: duplicates embed once
    for i, key in enumerate(keys):
        if key not in known:
            first_of.setdefault(key, i)
    todo = list(first_of)
    with tqdm(total=len(todo), desc="embedding", unit="passage", disable=not progress or not todo) as bar:
        for start in range(0, len(todo), slice_size):
            batch = [first_of[key] for key in todo[start : start + slice_size]]
            vectors, sentence_vectors = embedder.embed_passages_with_sentences(
                [texts[i] for i in batch], [spans[i] for i in batch]
            )
            cache.put([keys[i] for i in batch], vectors, sentence_vectors)
            known.update(
                (keys[i], (v, s.astype(np.float16).astype(np.float32)))
                for i, v, s in zip(batch, vectors, sentence_vectors, strict=True)
            )
            bar.update(len(batch))
    passages = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    sentences = []
    for i, key in enumerate(keys):
        passages[i], sentence = known[key]
        sentences.append(sentence)
    return passages, sentences, len(todo)
