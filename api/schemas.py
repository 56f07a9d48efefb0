"""Request and response models of the HTTP API (pydantic at the edge; the library speaks dataclasses)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rag.search.citation import CitedSpan
from rag.types import MAX_QUERY_CHARS, MAX_TOP_K, Hit, Mode


class ErrorItem(BaseModel):
    """One problem with a request: where (``loc``, e.g. ``["body", "top_k"]``), what, and its pydantic type."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The body of every 4xx (and 5xx) answer: one sentence in ``detail``; for a request that failed validation,
    the first problems in ``errors``. Never the raw input: excerpts are short and capped."""

    detail: str = Field(description="What is wrong and how to fix it.")
    errors: list[ErrorItem] | None = Field(
        None, description="Validation problems (at most the first few); absent for other errors."
    )


class OpenAIError(BaseModel):
    message: str = Field(description="What is wrong and how to fix it.")
    type: str = Field(description="invalid_request_error, or server_error.")
    param: str | None = Field(None, description="The first invalid field, when one is to blame.")
    code: str | None = Field(None, description="A machine-readable reason (model_not_found, invalid_api_key).")


class OpenAIErrorOut(BaseModel):
    """The body of every error under ``/v1/``, in OpenAI's shape, which OpenAI clients turn into their exceptions."""

    error: OpenAIError


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic alone also reads a number as a Unix timestamp (``0`` would mean 1970)."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("a date must be a string YYYY-MM-DD, for example 2023-11-09")


IsoDate = Annotated[date, BeforeValidator(_iso_day)]


class StrictModel(BaseModel):
    """Unknown fields are a client error (422), not silently ignored; all of them make one error, not one each (a
    body with 200,000 unknown keys made 200,000 errors, and seconds of work on the event loop)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and (unknown := data.keys() - cls.model_fields.keys()):
            names = ", ".join(repr(str(name)[:40]) for name in sorted(map(str, unknown))[:3])
            more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
            raise ValueError(f"unknown field {names}{more}; the fields are: {', '.join(cls.model_fields)}")
        return data


class Filters(StrictModel):
    source: str | None = Field(None, max_length=1000, description="Glob on the cited source path, e.g. 'seeds/00*'.")
    date_from: IsoDate | None = Field(None, description="Only documents dated on or after this day (YYYY-MM-DD).")
    date_to: IsoDate | None = Field(None, description="Only documents dated on or before this day (YYYY-MM-DD).")


class SearchRequest(StrictModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    filters: Filters | None = None
    mode: Mode | None = Field(None, description="dense, bm25 or hybrid; default: the server's RAG_MODE.")
    rerank: bool | None = Field(
        None, strict=True, description="Rerank with the cross-encoder; default: when one is configured."
    )  # strict: true or false, as the schema says (pydantic alone also takes 0, 1 and "yes")


class SearchResponse(BaseModel):
    """Results are the library's own ``Hit`` dataclasses: the same objects ``rag search --json`` prints."""

    query: str
    answerable: bool | None = Field(
        description="Whether a passage returned seems to answer the query: a relevance of at least 0.5 (the "
        "answer_threshold setting) among the first five. False: the documents do not seem to hold the answer, the "
        "results are the closest matches. Null when no passage has a relevance."
    )
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


class DocumentDetailOut(DocumentOut):
    span: CitedSpan | None = Field(None, description="The span asked for, with its lines, as the citation counts them.")


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]


class FileOutcomeOut(BaseModel):
    file: str = Field(description="The file's name in the managed folder.")
    doc_id: str
    status: Literal["added", "updated", "unchanged", "skipped", "removed"]
    reason: str | None = Field(None, description="Why the indexer skipped the file (nothing of it was kept).")
    document: DocumentOut | None = Field(None, description="The document as indexed now (none if skipped or removed).")


class DocumentsChangeOut(BaseModel):
    """What an upload or delete did; the index build it made is the one being served when this answer is sent."""

    files: list[FileOutcomeOut]
    index_build_id: str
    documents: int = Field(description="Documents in the index now.")
    chunks: int = Field(description="Passages in the index now.")
    seconds: float


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class VectorStoreOut(BaseModel):
    kind: Literal["index", "milvus-lite", "milvus"] = Field(
        description="index: FAISS over the index folder; milvus-lite or milvus: a Milvus collection."
    )
    address: str | None = Field(None, description="The Milvus server's address (without credentials).")
    vectors: int = Field(description="Vectors the store holds.")


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
    vector_store: VectorStoreOut
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
    """An OpenAI chat message; content may be a string or a list of typed parts.

    Lists stop at their first bad item (``fail_fast``): one error per item of a 1 MB list took seconds of work
    on the event loop, where FastAPI validates."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | Annotated[list[dict[str, Any]], Field(fail_fast=True)] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class OpenAIOptions(BaseModel):
    """What OpenAI requests share. OpenAI clients send many optional fields (temperature, user, ...); they are
    accepted and ignored, as a retrieval model has no use for them. Those whose meaning it cannot honour
    (``n`` above 1, a required tool call, a JSON schema for the reply) are refused with a 400 by the route."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None
    top_k: int | None = Field(
        None, ge=1, le=MAX_TOP_K, description="Passages quoted in the answer (an extension; default RAG_CHAT_PASSAGES)."
    )
    n: int | None = Field(None, ge=1)
    tools: list[dict[str, Any]] | None = Field(None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None


class ChatRequest(OpenAIOptions):
    """An OpenAI chat completion request: the conversation is the question."""

    messages: list[ChatMessage] = Field(min_length=1, fail_fast=True)


class CompletionRequest(OpenAIOptions):
    """An OpenAI (legacy) completion request: the prompt is the question."""

    prompt: str | Annotated[list[str], Field(min_length=1, max_length=MAX_TOP_K, fail_fast=True)]

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
