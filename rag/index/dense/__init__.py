"""Dense search behind one interface over two stores: the index's own FAISS segments (the default), or a Milvus
collection (Milvus Lite in a folder, or a Milvus server or cluster) holding the same vectors under the same chunk
ids. Everything else an index holds (the commit point, texts and citations, BM25, filters) stays in the index
folder, so results, citations and filters are the same on both; only where the nearest vectors are found moves.

Where each part lives: ``location`` (the interface, a store's status), ``segments`` (FAISS over
the segments), ``milvus`` (a Milvus collection and search through it), ``mirror`` (a build bringing the collection
in step with the commit point), ``marker`` (which build the collection holds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.index.dense.location import StoreStatus, VectorSearch
from rag.settings import INDEX_STORE, StoreLocation

if TYPE_CHECKING:
    from rag.index.reader import Index
    from rag.settings import Settings

__all__ = ["StoreLocation", "StoreStatus", "VectorSearch", "open_vector_search", "own_vectors"]


def open_vector_search(index: Index, settings: Settings) -> VectorSearch:
    """Dense search for an opened index through the store ``settings.vector_store`` names."""
    location = StoreLocation.parse(settings.vector_store)
    if not location.is_milvus:
        from rag.index.dense.segments import SegmentSearch

        return SegmentSearch(index)
    from rag.index.dense.milvus import MilvusSearch

    return MilvusSearch.open(index, location, settings)


def own_vectors(settings: Settings) -> Settings:
    """``settings`` with dense search on the index's own segments, whatever the store: for opening an index to
    write or copy its vectors (a build, the mirror bringing a store in step), never to search through the store."""
    return settings.model_copy(update={"vector_store": INDEX_STORE})
