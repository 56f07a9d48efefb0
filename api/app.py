"""The FastAPI application: ``create_app(settings)`` wires routers, errors, the body limit and auth; the model and
index load once, in ``lifespan``, not at import and not per request."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.auth import OPEN_PATHS, ApiKeyMiddleware
from api.body_limit import BodyLimitMiddleware
from api.errors import documented, error_model_ref, install_error_handlers
from api.links import LinkSigner
from api.mcp_tools import build_mcp_server
from api.reload import IndexReloader, ServedBuilds
from api.routers import chat, documents, health, page, search, web_search
from rag.runtime import configure_process
from rag.search.searcher import Searcher
from rag.settings import Settings

logger = logging.getLogger(__name__)

SECURITY_SCHEME = "bearer"
"""The error model, which the routes' own ``responses=`` put in the schema's components."""


def create_app(
    settings: Settings | None = None, *, searcher: Searcher | None = None, index_dir: Path | None = None
) -> FastAPI:
    """The service for one index. Pass an opened ``searcher`` to reuse one (the CLI opens it first so that a
    missing index is reported before the server starts); the app closes it only when a reload replaces it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        configure_process(settings)
        builds = ServedBuilds(searcher or Searcher.open(settings, index_dir), owned=searcher is None)
        app.state.builds = builds
        logger.info("serving index %s", builds.current.index.manifest.build_id)
        reloader = IndexReloader(builds, settings.reload_interval)  # uploads call it even when it does not poll
        app.state.reloader = reloader
        if settings.reload_interval > 0:
            reloader.start()
        # The model's millions of objects live as long as the process: freezing them keeps every full garbage
        # collection (which any allocation-heavy request sets off, stalling all threads) from walking them again;
        # without it a 1 MB request body held /health up for 250 ms.
        gc.collect()
        gc.freeze()
        try:
            async with mcp_server.session_manager.run():
                yield
        finally:
            reloader.stop()
            builds.close()

    app = FastAPI(
        title="rag",
        summary="Semantic search over your documents, with citations you can check.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (health, search, documents, chat, web_search, page):
        app.include_router(module.router)
    # MCP over streamable HTTP, answering from the served build (leased per call, as routes are)
    mcp_server = build_mcp_server(lambda: app.state.builds.lease())
    app.mount("/mcp", mcp_server.streamable_http_app(streamable_http_path="/", host="0.0.0.0"))
    app.add_middleware(
        BodyLimitMiddleware, limit=settings.max_request_bytes, upload_limit=settings.upload_max_request_bytes
    )
    app.state.link_signer = None
    if settings.api_key is not None:  # added last, so it runs first: no key, no work
        secret = settings.link_secret.get_secret_value().encode() if settings.link_secret else None
        app.state.link_signer = LinkSigner(secret, settings.link_ttl_seconds)
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value(), signer=app.state.link_signer)
    app.openapi = lambda: _openapi(app, keyed=settings.api_key is not None)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, *, keyed: bool) -> dict[str, Any]:
    """FastAPI's schema, plus what the routes cannot say themselves: with an API key, the bearer scheme and the 401
    of every operation that needs it."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        if keyed:
            schema.setdefault("components", {})["securitySchemes"] = {
                SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "description": "The RAG_API_KEY."}
            }
            for path, operations in schema["paths"].items():
                if path in OPEN_PATHS:
                    continue
                content = {"application/json": {"schema": {"$ref": error_model_ref(path)}}}
                for operation in operations.values():
                    operation["security"] = [{SECURITY_SCHEME: []}]
                    operation["responses"]["401"] = {
                        "description": documented(401)[401]["description"],
                        "content": content,
                    }
        app.openapi_schema = schema
    return app.openapi_schema
