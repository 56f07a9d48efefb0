"""POST /web-search in the shape of Open WebUI's external web search engine."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.answer import source_label
from api.dependencies import SearcherDep, SettingsDep, link_signer, public_base_url
from api.errors import documented
from api.links import span_link
from api.routing import JsonRoute
from api.schemas import WebSearchRequest, WebSearchResult

router = APIRouter(tags=["open-webui"], route_class=JsonRoute)


@router.post("/web-search", response_model=list[WebSearchResult], responses=documented(400, 413, 422))
def web_search(
    body: WebSearchRequest, request: Request, searcher: SearcherDep, settings: SettingsDep
) -> list[WebSearchResult]:
    """Passages as search results, each snippet ending with its citation; each link opens the cited span in its
    document (signed when the service has an API key, so a web loader can fetch it without the key)."""
    hits = searcher.search(body.query, body.count)
    base = public_base_url(request, settings)
    signer = link_signer(request)
    return [
        WebSearchResult(
            link=span_link(base, h, signer), title=source_label(h), snippet=f"{h.text}\n({source_label(h)})"
        )
        for h in hits
    ]
