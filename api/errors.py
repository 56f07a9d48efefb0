"""Every error the service answers, in one shape (``ErrorOut``): one table from library errors to HTTP status
codes, the handlers that use it, and what each route documents.

Error bodies never echo the request: FastAPI's default validation answer repeats every bad input (a 3 MB body
came back as a 23 MB error, and a ``NaN`` or a lone surrogate in it made the answer itself fail with a 500). Here
a validation error lists at most ``MAX_LISTED_ERRORS`` problems, without their inputs, and every string of an
error body is a capped excerpt of valid Unicode.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from api.schemas import ErrorItem, ErrorOut, OpenAIErrorOut
from rag.errors import (
    DocumentNotFoundError,
    FileTooLargeError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    InvalidInputError,
    InvalidQueryError,
    ModelLoadError,
    NoDocumentsError,
    NotUploadedError,
    RagError,
    UnsupportedFileTypeError,
    VectorStoreError,
)
from rag.ingest.reading import shorten

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[RagError], int] = {
    DocumentNotFoundError: 404,
    InvalidQueryError: 422,
    InvalidInputError: 422,
    NoDocumentsError: 422,
    IndexLockedError: 409,
    NotUploadedError: 409,
    FileTooLargeError: 413,
    UnsupportedFileTypeError: 415,
    IndexNotFoundError: 503,
    IndexMismatchError: 503,
    IndexCorruptError: 503,
    IndexWriteError: 503,
    ModelLoadError: 503,
    VectorStoreError: 503,
}

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
MAX_LISTED_ERRORS = 10
MAX_DETAIL_CHARS = 1000
MAX_MESSAGE_CHARS = 300
MAX_LOC_CHARS = 64
MAX_LOC_PARTS = 12

DESCRIPTIONS = {
    400: "The request body could not be read, or asks for what this model cannot do (OpenAI routes).",
    401: "Missing or wrong API key.",
    404: "No such document or page, or no such model (OpenAI routes).",
    409: "The index is being written by another writer (waited RAG_UPLOAD_LOCK_WAIT seconds), or the document was "
    "indexed from a folder, not uploaded.",
    413: "The request body is larger than RAG_MAX_REQUEST_BYTES (uploads: RAG_UPLOAD_MAX_REQUEST_BYTES), or an "
    "uploaded file than RAG_MAX_FILE_BYTES.",
    415: "An uploaded file's type is not one RAG_UPLOAD_TYPES accepts.",
    422: "The request is invalid: the reason is in `detail`, the first problems in `errors`.",
    503: "The index cannot be used.",
}


def documented(*statuses: int, openai: bool = False) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status with the one error model (OpenAI's for the ``/v1/`` routes), for
    the OpenAPI schema."""
    model = OpenAIErrorOut if openai else ErrorOut
    return {status: {"model": model, "description": DESCRIPTIONS[status]} for status in statuses}


def error_model_ref(path: str) -> str:
    """The schema component of a path's error bodies."""
    return "#/components/schemas/" + ("OpenAIErrorOut" if path.startswith(OPENAI_PREFIX) else "ErrorOut")


def excerpt(text: object, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` as valid Unicode (a lone surrogate becomes U+FFFD) of at most ``limit`` characters."""
    return shorten(str(text), limit).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


OPENAI_PREFIX = "/v1/"
"""Routes under this prefix answer errors in OpenAI's shape, which OpenAI clients parse into their exceptions."""

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
    405: "invalid_request_error", 413: "invalid_request_error", 422: "invalid_request_error",
}  # fmt: skip


def error_response(
    status: int,
    detail: object,
    *,
    errors: list[ErrorItem] | None = None,
    headers: dict[str, str] | None = None,
    path: str = "",
    code: str | None = None,
) -> JSONResponse:
    """The error body: ``ErrorOut``, or under ``/v1/`` OpenAI's ``{"error": {"message", "type", "param",
    "code"}}`` (``param``: the first invalid field, ``code``: a machine-readable reason when there is one)."""
    if path.startswith(OPENAI_PREFIX):
        param = ".".join(str(part) for part in errors[0].loc[1:]) if errors and errors[0].loc else None
        error = {
            "message": excerpt(detail),
            "type": OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": param or None,
            "code": code,
        }
        return JSONResponse({"error": error}, status_code=status, headers=headers)
    body = ErrorOut(detail=excerpt(detail), errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def status_for(exc: RagError) -> int:
    for error_type in type(exc).__mro__:
        if error_type in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_type]
    return 500


def rag_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)  # registered for RagError only
    status = status_for(exc)
    if status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(status, exc, path=request.url.path)


def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 saying what the first problem is, and listing the first few. A plain ``def``, so that Starlette runs it
    in a worker thread: formatting errors never holds up the event loop."""
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    listed = [_error_item(problem) for problem in problems[:MAX_LISTED_ERRORS]]
    first = listed[0] if listed else ErrorItem(loc=[], msg="invalid request", type="invalid")
    detail = f"invalid request: {'.'.join(map(str, first.loc)) or 'request'}: {first.msg}"
    if len(problems) > 1:
        detail += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return error_response(422, detail, errors=listed, path=request.url.path)


def _error_item(problem: dict[str, Any]) -> ErrorItem:
    """One pydantic error without its ``input`` and ``ctx`` (they hold the raw request), capped in size."""
    loc = [part if isinstance(part, int) else excerpt(part, MAX_LOC_CHARS) for part in problem.get("loc", ())]
    if len(loc) > MAX_LOC_PARTS:
        loc = [*loc[: MAX_LOC_PARTS - 1], "…"]
    msg = str(problem.get("msg", "invalid"))
    if problem.get("type") == "json_invalid":  # FastAPI puts the position in loc and the reason in ctx
        loc = ["body"]
        msg = f"the body is not JSON: {(problem.get('ctx') or {}).get('error') or 'decode error'}"
    return ErrorItem(loc=loc, msg=excerpt(msg, MAX_MESSAGE_CHARS), type=excerpt(problem.get("type", ""), 64))


def http_error_handler(request: Request, exc: Exception) -> Response:
    """HTTPExceptions in the one error shape. A 405 lists in ``Allow`` every method the path supports (Starlette
    names only those of the first route that matched the path), and OPTIONS answers that list with a 204."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
        detail = f"method {request.method} is not allowed here; use {', '.join(allowed)}"
        return error_response(405, detail, headers=headers, path=request.url.path)
    detail, code = exc.detail, None
    if isinstance(detail, dict):  # routes that name an OpenAI error code raise {"message", "code"}
        detail, code = detail.get("message", ""), detail.get("code")
    return error_response(exc.status_code, detail, headers=headers or None, path=request.url.path, code=code)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path, and OPTIONS. Found by asking the router whether the
    path matches in full with each method, which also sees the routes of included routers."""
    allowed = [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in request.app.router.routes
        )
    ]
    return [*allowed, "OPTIONS"]


def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A bug answers 500 in the same shape, without internals (the traceback goes to the log)."""
    return error_response(500, "internal error; the server log has the details", path=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagError, rag_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
