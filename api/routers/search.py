"""POST /search and GET /search: ranked passages with citations."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import SearcherDep
from api.errors import documented
from api.routing import JsonRoute
from api.schemas import Filters, IsoDate, SearchRequest, SearchResponse
from rag.search.answerability import answerable
from rag.types import MAX_QUERY_CHARS, MAX_TOP_K, Mode, SearchFilters

router = APIRouter(tags=["search"], route_class=JsonRoute)


def run_search(
    searcher: SearcherDep,
    query: str,
    top_k: int,
    filters: Filters | None,
    mode: str | None = None,
    rerank: bool | None = None,
) -> SearchResponse:
    started = time.perf_counter()
    search_filters = SearchFilters(**filters.model_dump()) if filters else None
    hits = searcher.search(query, top_k, search_filters, mode=mode, rerank=rerank)
    took_ms = (time.perf_counter() - started) * 1000
    return SearchResponse(query=query, answerable=answerable(hits), results=hits, took_ms=round(took_ms, 2))


@router.post("/search", response_model=SearchResponse, responses=documented(400, 413, 422))
def search(request: SearchRequest, searcher: SearcherDep) -> SearchResponse:
    """The passages that best answer ``query``, optionally restricted by source glob and date range."""
    return run_search(searcher, request.query, request.top_k, request.filters, request.mode, request.rerank)


@router.get("/search", response_model=SearchResponse, responses=documented(422))
def search_get(
    searcher: SearcherDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The question.")],
    k: Annotated[int, Query(ge=1, le=MAX_TOP_K, description="Number of passages.")] = 5,
    source: Annotated[str | None, Query(max_length=1000, description="Glob on the source path.")] = None,
    date_from: Annotated[IsoDate | None, Query(description="Only documents dated on or after (YYYY-MM-DD).")] = None,
    date_to: Annotated[IsoDate | None, Query(description="Only documents dated on or before (YYYY-MM-DD).")] = None,
    mode: Annotated[Mode | None, Query(description="dense, bm25 or hybrid.")] = None,
    rerank: bool | None = None,
) -> SearchResponse:
    """The same as POST /search, for a browser or curl."""
    filters = Filters(source=source, date_from=date_from, date_to=date_to)
    return run_search(searcher, q, k, filters, mode, rerank)
