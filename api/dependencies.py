"""Request dependencies as ``Annotated`` aliases: the loaded searcher and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.search import Searcher
from rag.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
