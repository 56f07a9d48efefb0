"""The FastAPI application: ``create_app(settings)`` wires routers, errors and auth; the model and index load
once, in ``lifespan``, not at import and not per request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api.auth import ApiKeyMiddleware
from api.errors import install_error_handlers
from api.reload import IndexReloader
from api.routers import chat, documents, health, page, search, web_search
from rag.search import Searcher
from rag.settings import Settings

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, searcher: Searcher | None = None, index_dir: Path | None = None
) -> FastAPI:
    """The service for one index. Pass an opened ``searcher`` to reuse one (the CLI opens it first so that a
    missing index is reported before the server starts)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.searcher = searcher or Searcher.open(settings, index_dir)
        logger.info("serving index %s", app.state.searcher.index.manifest.build_id)
        reloader = IndexReloader(app, settings.reload_interval) if settings.reload_interval > 0 else None
        app.state.reloader = reloader
        if reloader:
            reloader.start()
        try:
            yield
        finally:
            if reloader:
                reloader.stop()

    app = FastAPI(
        title="rag",
        summary="Semantic search over your documents, with citations you can check.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (health, search, documents, chat, web_search, page):
        app.include_router(module.router)
    if settings.api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    return app
