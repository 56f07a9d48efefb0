"""The OpenAI-compatible endpoints chat front ends and LLM frameworks use: ``GET /v1/models`` (and one model),
``POST /v1/chat/completions`` and ``POST /v1/completions``.

The conversation (or the prompt) is the question: the last user message, read with the one before it when it
leans on it (``rag.search.conversation``). The reply leads with the answering sentences, then the passages, then
the sources as links; the sources also travel as OpenAI ``url_citation`` annotations (Open WebUI shows them as
chips) and in a ``citations`` field with the full results. Usage counts tokens of the embedding model's tokenizer.
Errors under ``/v1/`` have OpenAI's shape (``api.errors``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from api.answer import Reply, chat_reply
from api.dependencies import SearcherDep, SettingsDep, link_signer, public_base_url
from api.errors import documented
from api.routing import JsonRoute
from api.schemas import ChatRequest, CompletionRequest, ModelListOut, ModelOut, OpenAIOptions
from rag.search.conversation import Turn, search_conversation
from rag.search.searcher import Searcher

router = APIRouter(prefix="/v1", tags=["openai"], route_class=JsonRoute)

MODEL_ID = "rag-search"
STARTED = int(time.time())


@router.get("/models", response_model=ModelListOut)
def list_models() -> ModelListOut:
    return ModelListOut(data=[ModelOut(id=MODEL_ID, created=STARTED)])


@router.get("/models/{model_id}", response_model=ModelOut, responses=documented(404, 422, openai=True))
def get_model(model_id: str) -> ModelOut:
    _check_model(model_id)
    return ModelOut(id=MODEL_ID, created=STARTED)


@router.post("/chat/completions", response_model=None, responses=documented(400, 404, 413, 422, openai=True))
def chat_completions(
    body: ChatRequest, request: Request, searcher: SearcherDep, settings: SettingsDep
) -> dict[str, Any] | StreamingResponse:
    """The passages that answer the conversation's last question, as an assistant message."""
    _check_options(body)
    turns = [Turn(m.role, m.text()) for m in body.messages]
    if not any(t.role == "user" and t.text.strip() for t in turns):
        raise HTTPException(status_code=422, detail="no user message with text: the last user message is the question")
    found = search_conversation(searcher, turns, body.top_k or settings.chat_passages)
    reply = chat_reply(found.hits, public_base_url(request, settings), link_signer(request))
    prompt_text = "\n".join(t.text for t in turns)
    answer = _Answer(body, reply, [h.to_dict() for h in found.hits], _usage(searcher, prompt_text, reply.text))
    return answer.stream("chat.completion.chunk") if body.stream else answer.chat()


@router.post("/completions", response_model=None, responses=documented(400, 404, 413, 422, openai=True))
def completions(
    body: CompletionRequest, request: Request, searcher: SearcherDep, settings: SettingsDep
) -> dict[str, Any] | StreamingResponse:
    """The same reply for a prompt (the legacy completions API some frameworks call by default)."""
    _check_options(body)
    if not isinstance(body.prompt, str) and len(body.prompt) > 1:
        raise HTTPException(status_code=400, detail="one prompt per request: a list of prompts is not supported")
    if not body.text().strip():
        raise HTTPException(status_code=422, detail="the prompt is empty: it is the question")
    found = search_conversation(searcher, [Turn("user", body.text())], body.top_k or settings.chat_passages)
    reply = chat_reply(found.hits, public_base_url(request, settings), link_signer(request))
    answer = _Answer(body, reply, [h.to_dict() for h in found.hits], _usage(searcher, body.text(), reply.text))
    return answer.stream("text_completion") if body.stream else answer.completion()


def _check_model(model: str | None) -> None:
    if model is not None and model != MODEL_ID:
        raise HTTPException(
            status_code=404,
            detail={"message": f"The model '{model}' does not exist; this server has '{MODEL_ID}'.",
                    "code": "model_not_found"},
        )  # fmt: skip


def _check_options(body: OpenAIOptions) -> None:
    """Refuse what a retrieval reply cannot honour, rather than ignore it silently."""
    _check_model(body.model)
    if body.n is not None and body.n > 1:
        raise HTTPException(status_code=400, detail="n > 1 is not supported: there is one retrieval answer")
    required = body.tool_choice == "required" or isinstance(body.tool_choice, dict)
    if body.tools and required:
        raise HTTPException(status_code=400, detail="tool calls cannot be required: this model never calls tools")
    if body.response_format and body.response_format.get("type") in ("json_schema", "json_object"):
        raise HTTPException(
            status_code=400, detail="response_format json_schema/json_object is not supported: replies are text"
        )


def _usage(searcher: Searcher, prompt: str, reply: str) -> dict[str, int]:
    """Tokens of the embedding model's tokenizer (the only tokenizer this model has)."""
    tokenizer = searcher.embedder.tokenizer
    prompt_tokens, completion_tokens = (
        len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in (prompt, reply)
    )
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip


class _Answer:
    """One reply in the shapes OpenAI clients read: chat, completion, and their server-sent event streams."""

    def __init__(self, body: OpenAIOptions, reply: Reply, citations: list[dict[str, Any]], usage: dict[str, int]):
        self.reply, self.citations, self.usage = reply, citations, usage
        self.model = body.model or MODEL_ID
        self.include_usage = bool(body.stream_options and body.stream_options.include_usage)
        self.created = int(time.time())

    def chat(self) -> dict[str, Any]:
        message = {"role": "assistant", "content": self.reply.text, "annotations": self.reply.annotations}
        return self._envelope(
            f"chatcmpl-{uuid.uuid4().hex}", "chat.completion",
            [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        )  # fmt: skip

    def completion(self) -> dict[str, Any]:
        choice = {"index": 0, "text": self.reply.text, "finish_reason": "stop", "logprobs": None}
        return self._envelope(f"cmpl-{uuid.uuid4().hex}", "text_completion", [choice])

    def _envelope(self, completion_id: str, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": completion_id, "object": kind, "created": self.created, "model": self.model, "choices": choices,
            "usage": self.usage, "citations": self.citations,
        }  # fmt: skip

    def stream(self, kind: str) -> StreamingResponse:
        prefix = "chatcmpl" if kind == "chat.completion.chunk" else "cmpl"
        return StreamingResponse(self._events(f"{prefix}-{uuid.uuid4().hex}", kind), media_type="text/event-stream")

    def _events(self, completion_id: str, kind: str) -> Iterator[str]:
        """Server-sent events in OpenAI's chunk format, ending with ``data: [DONE]``: the annotations ride on the
        chunk that carries the sources (where Open WebUI reads ``delta.annotations``)."""
        chat = kind == "chat.completion.chunk"

        def event(text: str | None, finish_reason: str | None = None, **extra: Any) -> str:
            first, annotations = extra.pop("first", False), extra.pop("annotations", None)
            if chat:
                delta: dict[str, Any] = {} if text is None else {"content": text}
                if first:
                    delta["role"] = "assistant"
                if annotations:
                    delta["annotations"] = annotations
                choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            else:
                choice = {"index": 0, "text": text or "", "finish_reason": finish_reason, "logprobs": None}
            chunk = {"id": completion_id, "object": kind, "created": self.created, "model": self.model,
                     "choices": [choice], **extra}  # fmt: skip
            if self.include_usage:
                chunk["usage"] = None
            return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

        parts = self.reply.parts
        yield event("", first=True, citations=self.citations)
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            yield event(part, annotations=self.reply.annotations) if last and chat else event(part)
        yield event(None, "stop")
        if self.include_usage:
            chunk = {"id": completion_id, "object": kind, "created": self.created, "model": self.model,
                     "choices": [], "usage": self.usage}  # fmt: skip
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
