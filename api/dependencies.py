"""Request dependencies as ``Annotated`` aliases: the searcher of the served build and the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from api.links import LinkSigner
from api.reload import ServedBuilds
from rag.search.searcher import Searcher
from rag.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_searcher(request: Request) -> Iterator[Searcher]:
    """The searcher of the build being served, leased for the whole request: a hot reload during the request
    neither changes it nor closes it under the request's feet (it is closed when the last lease ends)."""
    builds: ServedBuilds = request.app.state.builds
    with builds.lease() as searcher:
        yield searcher


def public_base_url(request: Request, settings: Settings) -> str:
    """Where the links the service writes point: ``RAG_PUBLIC_URL`` when set (behind a proxy, in a container),
    else the address the request came to."""
    return settings.public_url or str(request.base_url)


def link_signer(request: Request) -> LinkSigner | None:
    """The signer of span links, when the service has an API key (links then carry a signature)."""
    return request.app.state.link_signer


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
