"""POST /web-search in the shape of Open WebUI's external web search engine."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request

from api.answer import source_label
from api.dependencies import SearcherDep
from api.errors import documented
from api.routing import JsonRoute
from api.schemas import WebSearchRequest, WebSearchResult
from rag.types import Hit

router = APIRouter(tags=["open-webui"], route_class=JsonRoute)


def span_link(base_url: str, hit: Hit) -> str:
    """The URL of the cited span in its document (``GET /documents/{doc_id}?start=&end=``)."""
    params = {"start": hit.citation.start, "end": hit.citation.end}
    query = urlencode(params | ({"page": hit.citation.page} if hit.citation.page else {}))
    return f"{base_url.rstrip('/')}/documents/{hit.citation.doc_id}?{query}"


@router.post("/web-search", response_model=list[WebSearchResult], responses=documented(400, 413, 422))
def web_search(body: WebSearchRequest, request: Request, searcher: SearcherDep) -> list[WebSearchResult]:
    """Passages as search results; each link opens the cited span in its document."""
    hits = searcher.search(body.query, body.count)
    base = str(request.base_url)
    return [WebSearchResult(link=span_link(base, h), title=source_label(h), snippet=h.text) for h in hits]
