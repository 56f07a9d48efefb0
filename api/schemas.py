"""Request and response models of the HTTP API (pydantic at the edge; the library speaks dataclasses)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.search import MAX_QUERY_CHARS, MAX_TOP_K, Hit


class StrictModel(BaseModel):
    """Unknown fields are a client error (422), not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Filters(StrictModel):
    source: str | None = Field(None, max_length=1000, description="Glob on the cited source path, e.g. 'seeds/00*'.")
    date_from: date | None = Field(None, description="Only documents dated on or after this day.")
    date_to: date | None = Field(None, description="Only documents dated on or before this day.")


Mode = Literal["dense", "bm25", "hybrid"]


class SearchRequest(StrictModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    filters: Filters | None = None
    mode: Mode | None = Field(None, description="dense, bm25 or hybrid; default: the server's RAG_MODE.")
    rerank: bool | None = Field(None, description="Rerank with the cross-encoder; default: when one is configured.")


class SearchResponse(BaseModel):
    """Results are the library's own ``Hit`` dataclasses: the same objects ``rag search --json`` prints."""

    query: str
    results: list[Hit]
    took_ms: float


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    date: str | None
    title: str | None
    encoding: str
    chars: int
    chunks: int


class SpanOut(BaseModel):
    start: int
    end: int
    line_start: int
    line_end: int
    text: str


class DocumentDetailOut(DocumentOut):
    span: SpanOut | None = None


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    model: str
    dimension: int
    documents: int
    chunks: int
    index_build_id: str
    index_built_at: str
    mode: str
    reranker: str | None
    reload_error: str | None = Field(None, description="Why the newest build on disk is not served, if it is not.")


class WebSearchRequest(BaseModel):
    """Open WebUI's external web search request."""

    model_config = ConfigDict(extra="ignore")
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    count: int = Field(5, ge=1, le=MAX_TOP_K)


class WebSearchResult(BaseModel):
    link: str
    title: str
    snippet: str


class ChatMessage(BaseModel):
    """An OpenAI chat message; content may be a string or a list of typed parts."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class ChatRequest(BaseModel):
    """An OpenAI chat completion request. OpenAI clients send many optional fields (temperature, user, ...);
    they are accepted and ignored, as a retrieval model has no use for them."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Passages quoted in the answer (an extension).")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
