"""A cap on the size of request bodies, enforced before anything parses them.

Without it a client can make the service read, parse and validate any amount of JSON, which blocks every other
client meanwhile (a 3 MB body with 200,000 keys stalled /health for 14.5 s). Two checks, because a client need not
announce the size: a ``Content-Length`` over the limit is refused before a byte of the body is read, and the bytes
of a body that arrives in chunks (``Transfer-Encoding: chunked``) are counted as they come, refusing it as soon as
the count passes the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; the error handlers answer 413 with it."""

    def __init__(self, limit: int, setting: str = "RAG_MAX_REQUEST_BYTES") -> None:
        super().__init__(
            status_code=413,
            detail=f"the request body is larger than the limit of {limit} bytes ({setting}); send a smaller request",
            # the unread rest of the body makes the connection unusable for another request: close it
            headers={"Connection": "close"},
        )


UPLOAD_ROUTE = ("POST", "/documents")


class BodyLimitMiddleware:
    """Refuses (413) any HTTP request whose body is larger than ``limit`` bytes; uploads (``POST /documents``)
    are held to ``upload_limit`` instead."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit or limit

    def _limit_of(self, scope: Scope) -> tuple[int, str]:
        """The body limit of this request's route, and the setting that sets it."""
        if (scope["method"], scope["path"].rstrip("/")) == UPLOAD_ROUTE:
            return self.upload_limit, "RAG_UPLOAD_MAX_REQUEST_BYTES"
        return self.limit, "RAG_MAX_REQUEST_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit_of(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(BodyTooLargeError(limit, setting), scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit, setting)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError as too_large:  # read outside the routes' error handlers: answer here if nothing
            if started:  # was sent yet
                raise
            await self._refuse(too_large, scope, receive, send)

    @staticmethod
    async def _refuse(error: BodyTooLargeError, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(error.status_code, error.detail, headers=error.headers, path=scope["path"])
        await response(scope, receive, send)
