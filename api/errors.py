"""One table from library errors to HTTP status codes, and the handlers that use it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rag.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidInputError,
    InvalidQueryError,
    ModelLoadError,
    NoDocumentsError,
    RagError,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[RagError], int] = {
    InvalidQueryError: 422,
    InvalidInputError: 422,
    NoDocumentsError: 422,
    IndexNotFoundError: 503,
    IndexMismatchError: 503,
    IndexCorruptError: 503,
    ModelLoadError: 503,
}


def status_for(exc: RagError) -> int:
    for error_type in type(exc).__mro__:
        if error_type in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_type]
    return 500


async def rag_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)  # registered for RagError only
    status = status_for(exc)
    if status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagError, rag_error_handler)
