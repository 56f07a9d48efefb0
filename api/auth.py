"""Optional bearer-token check for every path but the open ones.

A middleware rather than a route dependency so that it also covers /docs and /openapi.json. Open paths:
``/health`` (liveness probes) and ``/``, the page shell, which holds no data and asks for the key itself.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.links import LinkSigner

OPEN_PATHS = frozenset({"/health", "/"})


class ApiKeyMiddleware:
    """No key, no work: every request but the open paths needs the bearer key, except a GET of a span link the
    service signed itself (``api.links``)."""

    def __init__(self, app: ASGIApp, api_key: str, signer: LinkSigner | None = None) -> None:
        self.app = app
        self.expected = api_key.encode()
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        signed = scope["method"] in ("GET", "HEAD") and self.signer is not None
        if signed and self.signer.verify(scope["path"], dict(request.query_params)):
            await self.app(scope, receive, send)
            return
        if not self._authorised(request):
            response = error_response(
                401,
                "missing or wrong API key: send the header 'Authorization: Bearer <RAG_API_KEY>'",
                headers={"WWW-Authenticate": "Bearer"},
                path=scope["path"],
                code="invalid_api_key",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(), self.expected)
