"""Dense search through Milvus: one collection per index holds each live passage's vector under its chunk id,
with an HNSW index of the same parameters as the segments' graphs and inner product as the metric.

The index folder stays the commit point: a search keeps only the chunk ids live in the build the reader opened
(so a collection a newer build is updating never leaks its passages into an older reader's answers), and a
filter is resolved in the folder's SQLite store, as on FAISS, then reaches Milvus as chunk-id ranges. Milvus Lite
(``milvus-lite:PATH``) runs inside the process; a server (``http://host:19530``) is shared by every replica.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from rag.errors import VectorStoreError
from rag.index.dense.location import StoreStatus
from rag.index.dense.marker import read_marker
from rag.index.dense.segments import SegmentSearch
from rag.index.vectors import HnswParameters
from rag.net import unreachable
from rag.settings import Settings, StoreLocation

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from rag.index.reader import Index, Selection

logger = logging.getLogger(__name__)

MAX_LIMIT = 16_384
"""Milvus's largest ``limit`` (topk) for one search."""
MAX_RANGES = 512
"""A filter whose passages fall into at most this many runs of chunk ids reaches Milvus as ranges."""
MAX_LISTED = 16_384
"""Beyond ``MAX_RANGES`` runs, a filter keeping at most this many passages reaches Milvus as a list of ids; a
larger, scattered one is searched over a wider result and checked here (and, if that is not enough, exactly on
the index's own vectors)."""
WRITE_BATCH = 2_000
"""Rows per upsert or delete call (a few MB of vectors each)."""
CONNECT_SECONDS = 5.0
"""How long a server address may stay silent before a clear error (pymilvus alone retries for a minute)."""
ID_WINDOW = 500_000
"""Chunk ids listed per query when a collection is checked whole (4 MB of ids)."""
INDEX_STALL_SECONDS = 120.0
"""How long a build waits for Milvus's indexing to move before it lets readers at what it wrote anyway."""
SMALL_SEGMENT_ROWS = 1024
"""Milvus builds no index for a segment smaller than this (``minSegmentNumRowsToEnableIndex``): it is searched
exactly."""
STALE_MARGIN = 16
"""Results asked beyond ``k``: rows a newer build has written but this reader's build does not hold."""


class MilvusCollection:
    """The collection of one index's vectors: ``chunk_id`` (primary key) and ``vector``. Writes come from one
    build at a time (the index's writer lock); reads from any number of readers."""

    def __init__(self, client: MilvusClient, location: StoreLocation, name: str) -> None:
        self.client, self.location, self.name = client, location, name
        self._closed = False

    @classmethod
    def connect(cls, location: StoreLocation, settings: Settings) -> MilvusCollection:
        """A connection to the store (Milvus Lite starts inside this process); ``VectorStoreError`` when the
        server does not answer or the Lite folder is held by another process."""
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        token = settings.milvus_token.get_secret_value() if settings.milvus_token else ""
        if location.kind == "milvus":
            _check_reachable(location)
        try:
            with _lite_user(location):
                client = MilvusClient(uri=location.uri, token=token, timeout=30)
        except MilvusException as exc:
            raise VectorStoreError(_connect_failure(location, exc)) from exc
        return cls(client, location, settings.milvus_collection)

    def exists(self) -> bool:
        with self._errors("look up"):
            return bool(self.client.has_collection(self.name))

    def dimension(self) -> int | None:
        """The collection's vector dimension (None when it does not exist)."""
        if not self.exists():
            return None
        with self._errors("describe"):
            fields = self.client.describe_collection(self.name)["fields"]
        return next(int(f["params"]["dim"]) for f in fields if f["name"] == "vector")

    def create(self, dimension: int, hnsw: HnswParameters) -> None:
        """An empty collection for vectors of ``dimension``, indexed like the segments' graphs, loaded."""
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index_params = self.client.prepare_index_params()
        index_params.add_index(
            field_name="vector", index_type="HNSW", metric_type="IP",
            params={"M": hnsw.m, "efConstruction": hnsw.ef_construction},
        )  # fmt: skip
        with self._errors("create"):
            self.client.create_collection(
                self.name, schema=schema, index_params=index_params, consistency_level="Strong"
            )
        logger.info("created Milvus collection %s (%d dimensions) in %s", self.name, dimension, self.location)

    def load(self) -> None:
        """Make the collection searchable (a restarted Milvus holds collections released)."""
        with self._errors("load"):
            self.client.load_collection(self.name)

    def drop(self) -> None:
        with self._errors("drop"):
            self.client.drop_collection(self.name)

    def count(self, *, strong: bool = True) -> int:
        """Rows in the collection, with every write acknowledged so far seen (``strong``; a few hundred ms on a
        server) or as Milvus's bounded staleness sees them."""
        with self._errors("count"):
            rows = self.client.query(
                self.name, filter="", output_fields=["count(*)"], consistency_level="Strong" if strong else "Bounded"
            )
        return int(rows[0]["count(*)"])

    def chunk_ids(self, below: int) -> np.ndarray:
        """Every chunk id the collection holds, ascending; read in windows of ids up to ``below`` (the index's
        next chunk id) and one for whatever lies beyond, so no answer is larger than a window."""
        found = []
        bounds = [*range(0, below, ID_WINDOW), below]
        windows = [f"chunk_id >= {lo} and chunk_id < {hi}" for lo, hi in pairwise(bounds)]
        with self._errors("list"):
            for expression in [*windows, f"chunk_id >= {below}"]:
                rows = self.client.query(self.name, filter=expression, output_fields=["chunk_id"],
                                         consistency_level="Strong")  # fmt: skip
                found.append(np.asarray([row["chunk_id"] for row in rows], dtype=np.int64))
        return np.unique(np.concatenate(found))

    def upsert(self, chunk_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Write (or overwrite) the vectors of ``chunk_ids``."""
        with self._errors("write to"):
            for first in range(0, len(chunk_ids), WRITE_BATCH):
                ids, rows = chunk_ids[first : first + WRITE_BATCH], vectors[first : first + WRITE_BATCH].tolist()
                rows = [{"chunk_id": int(c), "vector": v} for c, v in zip(ids, rows, strict=True)]
                self.client.upsert(self.name, rows)

    def delete(self, chunk_ids: np.ndarray) -> None:
        with self._errors("delete from"):
            for first in range(0, len(chunk_ids), WRITE_BATCH):
                self.client.delete(self.name, ids=[int(c) for c in chunk_ids[first : first + WRITE_BATCH]])

    def last_write(self) -> int:
        """The Milvus timestamp of this connection's last write to the collection (0: none): a reader that asks
        for results as of it sees every write of the build, without waiting as a ``Strong`` search does."""
        from pymilvus.client import ts_utils

        address = self.client._get_connection().server_address
        return int(ts_utils.get_collection_ts(self.name, address, "") or 0)

    def flush(self) -> None:
        """Seal what was written (Milvus Lite searches unsealed rows by a slow scan)."""
        with self._errors("flush"):
            self.client.flush(self.name)

    def wait_until_indexed(self, stall: float = INDEX_STALL_SECONDS) -> bool:
        """Wait until every row is in a loaded segment that is searched through its HNSW index (or exactly, when
        too small to get one): until then a server searches new rows through an interim IVF index (SciFact dense
        nDCG@10 0.6818 against 0.7038 right after the writes), and a segment carries its index a few seconds
        after the index is built. False when nothing moved for ``stall`` seconds."""
        progress, moved = -1, time.monotonic()
        while (done := self._indexed_rows()) is not True:
            if done != progress:
                progress, moved = done, time.monotonic()
            elif time.monotonic() - moved > stall:
                return False
            time.sleep(0.5)
        return True

    def _indexed_rows(self) -> int | bool:
        """True when every row is searched as it will be; else how far the server has come (rows)."""
        with self._errors("describe the index of"):
            state = self.client.describe_index(self.name, "vector")
        total, indexed = int(state.get("total_rows", 0)), int(state.get("indexed_rows", 0))
        if int(state.get("pending_index_rows", 0)) or indexed < total:
            return indexed
        if self.location.kind == "milvus-lite" or total == 0:  # Lite indexes as it seals, and lists no segments
            return True
        with self._errors("list the segments of"):
            loaded = self.client.list_loaded_segments(self.name)
        ready = sum(s.num_rows for s in loaded if s.index_name or s.num_rows < SMALL_SEGMENT_ROWS)
        return True if loaded and ready >= sum(s.num_rows for s in loaded) else indexed + ready

    def search(
        self, queries: np.ndarray, limit: int, expression: str, ef: int, as_of: int = 0
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, up to ``limit`` ``(scores, chunk ids)`` by inner product among the rows ``expression``
        keeps (empty: all), seeing every write up to the timestamp ``as_of`` (0: Milvus's bounded staleness)."""
        params = {"metric_type": "IP", "params": {"ef": max(ef, limit)}}
        consistency = {"consistency_level": "Customized", "guarantee_timestamp": as_of} if as_of else {
            "consistency_level": "Bounded"}  # fmt: skip
        with self._errors("search"):
            results = self.client.search(
                self.name, data=queries.tolist(), filter=expression, limit=limit, search_params=params,
                output_fields=["chunk_id"], **consistency,
            )  # fmt: skip
        return [
            (np.asarray([h.distance for h in hits], dtype=np.float32), np.asarray([h.id for h in hits], dtype=np.int64))
            for hits in results
        ]  # fmt: skip

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.client.close()
            _release_lite(self.location)

    def __enter__(self) -> MilvusCollection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Milvus's exceptions as ``VectorStoreError`` saying which store and collection failed."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            raise VectorStoreError(
                f"could not {action} Milvus collection {self.name!r} ({self.location}): {exc.message}"
            ) from exc


class MilvusSearch:
    """Dense search of one opened index through its Milvus collection."""

    def __init__(self, index: Index, collection: MilvusCollection, as_of: int = 0) -> None:
        self.index = index
        self.collection = collection
        self.ef_search = index.settings.hnsw_ef_search
        self.as_of = as_of
        """The build's last write to the collection: searches see the collection at least as of then."""

    @classmethod
    def open(cls, index: Index, location: StoreLocation, settings: Settings) -> MilvusSearch:
        """Search through the collection, after checking it holds this build's vectors (the build writes a
        marker once the collection is in step with it)."""
        marker = read_marker(index.directory)
        if marker is None or not marker.names(settings.milvus_collection, location.kind):
            raise VectorStoreError(
                f"the index in {index.directory}/ has not been written to Milvus collection "
                f"{settings.milvus_collection!r}; run rag index with RAG_VECTOR_STORE={settings.vector_store}"
            )
        if marker.build_id != index.manifest.build_id:
            raise VectorStoreError(
                f"Milvus collection {settings.milvus_collection!r} holds build {marker.build_id}, not the index's "
                f"build {index.manifest.build_id} (a build is writing it, or stopped before it finished: run rag "
                "index again)"
            )
        collection = MilvusCollection.connect(location, settings)
        try:
            dimension = collection.dimension()
            if dimension != index.manifest.model.dimension:
                raise VectorStoreError(
                    f"Milvus collection {collection.name!r} ({location}) "
                    + ("does not exist" if dimension is None else f"holds {dimension}-dimensional vectors")
                    + f"; the index needs {index.manifest.model.dimension}: run rag index to write it"
                )
            collection.load()
        except BaseException:
            collection.close()
            raise
        return cls(index, collection, marker.written_at)

    def __len__(self) -> int:
        return self.index.live_count

    def status(self) -> StoreStatus:
        location = self.collection.location
        return StoreStatus(location.kind, location.address, self.collection.count(strong=False))

    def close(self) -> None:
        self.collection.close()

    def search(self, queries: np.ndarray, k: int, allowed: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As ``SegmentSearch.search``. Milvus is asked for a few more than ``k`` and the answers are kept only
        when live in this reader's build and within ``allowed``; a filter too scattered to send is applied to a
        wider result instead."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        scores = np.zeros((len(queries), k), dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        searchable = self.index.searchable(allowed)
        kept = int(np.count_nonzero(searchable))
        wanted = min(k, kept)
        if wanted == 0 or len(queries) == 0:
            return scores, ids
        expression = "" if allowed is None else _expression(self.index.ids, searchable, kept)
        widen = 1.0 if allowed is None or expression else len(searchable) / kept
        limit = min(MAX_LIMIT, math.ceil(wanted * widen * 1.2) + STALE_MARGIN)
        first = self.collection.search(queries, limit, expression, self.ef_search, self.as_of)
        for row, (values, chunk_ids) in enumerate(first):
            wider, exhausted = limit, len(chunk_ids) < limit
            values, chunk_ids = self._kept(values, chunk_ids, searchable)
            while len(chunk_ids) < wanted and not exhausted and wider < MAX_LIMIT:  # stale or filtered out: wider
                wider = min(MAX_LIMIT, wider * 4)
                [(values, chunk_ids)] = self.collection.search(
                    queries[row : row + 1], wider, expression, self.ef_search, self.as_of
                )
                exhausted = len(chunk_ids) < wider
                values, chunk_ids = self._kept(values, chunk_ids, searchable)
            if len(chunk_ids) < wanted and not expression and allowed is not None:
                local_scores, local_ids = SegmentSearch(self.index).search(queries[row : row + 1], k, allowed)
                scores[row], ids[row] = local_scores[0], local_ids[0]
                continue
            order = np.lexsort((chunk_ids, -values))[:k]
            scores[row, : len(order)], ids[row, : len(order)] = values[order], chunk_ids[order]
        return scores, ids

    def _kept(self, values: np.ndarray, chunk_ids: np.ndarray, searchable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The answers whose chunk ids this build holds, live and allowed."""
        positions = np.minimum(self.index.positions(chunk_ids), len(self.index.ids) - 1)
        keep = (self.index.ids[positions] == chunk_ids) & searchable[positions]
        return values[keep], chunk_ids[keep]


def _expression(ids: np.ndarray, searchable: np.ndarray, kept: int) -> str:
    """The allowed passages as a Milvus filter on ``chunk_id``: its runs as ranges when few, else its ids when
    few, else empty (too large to send: the caller filters a wider result)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], searchable.view(np.int8), [0]])))
    starts, ends = edges[::2], edges[1::2] - 1
    if len(starts) <= MAX_RANGES:
        return _any_of([
            f"(chunk_id >= {ids[s]} and chunk_id <= {ids[e]})" if s != e else f"chunk_id == {ids[s]}"
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ])  # fmt: skip
    if kept <= MAX_LISTED:
        return f"chunk_id in [{','.join(map(str, ids[searchable].tolist()))}]"
    return ""


def _any_of(clauses: list[str]) -> str:
    """``clauses`` joined by ``or`` as a balanced tree: Milvus 2.3 fails on a chain of about fifty."""
    if len(clauses) == 1:
        return clauses[0]
    middle = len(clauses) // 2
    return f"({_any_of(clauses[:middle])} or {_any_of(clauses[middle:])})"


def _check_reachable(location: StoreLocation) -> None:
    """Fail within ``CONNECT_SECONDS`` when nothing listens at a server's address."""
    parts = urlsplit(location.uri)
    host, port = parts.hostname or "localhost", parts.port or (443 if parts.scheme == "https" else 19530)
    if reason := unreachable(host, port, CONNECT_SECONDS):
        raise VectorStoreError(
            f"no Milvus server answers at {location.address} ({reason}); start it, or set RAG_VECTOR_STORE to "
            "where it runs"
        )


def _connect_failure(location: StoreLocation, exc: Exception) -> str:
    message = getattr(exc, "message", str(exc))
    if location.kind == "milvus-lite":
        return (
            f"cannot open Milvus Lite folder {location.uri} ({message}). Milvus Lite allows one process per "
            "folder: stop the other one (a rag serve, a rag index), or use a Milvus server"
        )
    return f"cannot connect to Milvus at {location.address}: {message}"


_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()


@contextmanager
def _lite_user(location: StoreLocation) -> Iterator[None]:
    """Count this process's open collections per Milvus Lite folder: pymilvus keeps a folder's in-process server
    until told, and another process (a service, the next ``rag index``) can open it only once it is let go."""
    if location.kind != "milvus-lite":
        yield
        return
    with _lite_lock:
        _lite_users[location.uri] = _lite_users.get(location.uri, 0) + 1
    try:
        yield
    except BaseException:
        _release_lite(location)
        raise


def _release_lite(location: StoreLocation) -> None:
    if location.kind != "milvus-lite":
        return
    with _lite_lock:
        users = _lite_users.get(location.uri, 0) - 1
        if users > 0:
            _lite_users[location.uri] = users
            return
        _lite_users.pop(location.uri, None)
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(location.uri)
