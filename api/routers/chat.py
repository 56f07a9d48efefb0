"""The OpenAI-compatible endpoints chat front ends use: GET /v1/models and POST /v1/chat/completions.

The last user message is the question; the assistant message quotes the top passages under numbered markers
and lists their sources. The results themselves travel in a ``citations`` field for clients that read it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from api.answer import answer_parts
from api.dependencies import SearcherDep
from api.errors import documented
from api.routing import JsonRoute
from api.schemas import ChatRequest, ModelListOut, ModelOut

router = APIRouter(prefix="/v1", tags=["openai"], route_class=JsonRoute)

MODEL_ID = "rag-search"
STARTED = int(time.time())


@router.get("/models", response_model=ModelListOut)
def list_models() -> ModelListOut:
    return ModelListOut(data=[ModelOut(id=MODEL_ID, created=STARTED)])


@router.post("/chat/completions", response_model=None, responses=documented(400, 413, 422))
def chat_completions(request: ChatRequest, searcher: SearcherDep) -> dict[str, Any] | StreamingResponse:
    question = next((m.text() for m in reversed(request.messages) if m.role == "user" and m.text().strip()), None)
    if question is None:
        raise HTTPException(status_code=422, detail="no user message with text: the last user message is the question")
    hits = searcher.search(question, request.top_k)
    citations = [h.to_dict() for h in hits]
    parts = answer_parts(question.strip(), hits)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = request.model or MODEL_ID
    if request.stream:
        return StreamingResponse(
            _stream(completion_id, created, model, parts, citations), media_type="text/event-stream"
        )
    content = "".join(parts)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": citations,
    }


def _stream(
    completion_id: str, created: int, model: str, parts: list[str], citations: list[dict[str, Any]]
) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format, ending with ``data: [DONE]``."""

    def event(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""}, citations=citations)
    for part in parts:
        yield event({"content": part})
    yield event({}, "stop")
    yield "data: [DONE]\n\n"
