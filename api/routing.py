"""The route class of every route that takes a JSON body: strict JSON, decoded off the event loop.

FastAPI decodes a body with ``json.loads`` on the event loop, which accepts ``NaN`` and ``Infinity`` (not JSON; a
validation error that echoed them then failed to render, a 500) and ``"\\ud800"`` escapes that decode to a lone
surrogate (not text; it failed in the tokenizer, a 500). Here the body must be UTF-8 JSON in the sense of RFC
8259, anything else is a 422 naming the problem, and the decoding runs in a worker thread so that a large body
never stalls the other clients. The size of a body is capped before this, by ``BodyLimitMiddleware``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rag.search.searcher import LONE_SURROGATE


class _NotJsonError(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJsonError(f"{name} is not a JSON value")


def decode_json(body: bytes) -> Any:
    """The value of a JSON body, or a ``json.JSONDecodeError`` whose message says what is wrong with it and where
    (FastAPI turns that error into a 422)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"it is not UTF-8 (byte {exc.start})", "", 0) from exc
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(f"{exc.msg} at line {exc.lineno} column {exc.colno}", "", 0) from exc
    except _NotJsonError as exc:
        raise json.JSONDecodeError(str(exc), "", 0) from exc
    except RecursionError as exc:
        raise json.JSONDecodeError("arrays or objects are nested too deeply", "", 0) from exc
    except ValueError as exc:  # the one other ValueError: an integer of more than sys.get_int_max_str_digits()
        raise json.JSONDecodeError("a number has too many digits", "", 0) from exc
    _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    """Every key and string of ``value`` must be valid Unicode; a surrogate pair escape (an emoji) is fine."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and LONE_SURROGATE.search(item):
            raise json.JSONDecodeError("a string holds a lone surrogate (an escape \\ud800-\\udfff), not text", "", 0)


class JsonBodyRequest(Request):
    """A request whose ``json()`` is strict and decoded in a worker thread."""

    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            self._strict_json = await run_in_threadpool(decode_json, await self.body())
        return self._strict_json


class JsonRoute(APIRoute):
    """An ``APIRoute`` that hands its handler a ``JsonBodyRequest`` (FastAPI's documented way to customise
    request parsing)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await handle(JsonBodyRequest(request.scope, request.receive))

        return handler
