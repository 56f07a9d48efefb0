"""Search over the Model Context Protocol, for agents and desktop clients: a ``search`` tool, a
``get_document_span`` tool and the indexed documents as resources, built with the official SDK (``mcp``).

Served over streamable HTTP at ``/mcp`` in the same app (behind the same API key) and over stdio by ``rag mcp``.
The tools answer from whatever searcher ``searcher_lease`` yields: the served build of a running service (leased
per call, so a hot reload never closes it mid-call), or the one index ``rag mcp`` opened.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

from api.answer import answering_sentence, source_label
from rag.errors import RagError
from rag.search.answerability import answerable
from rag.search.citation import span_in
from rag.search.searcher import Searcher
from rag.types import SearchFilters

CONTEXT_CHARS = 200
"""Characters of text shown on each side of a cited span by ``get_document_span``."""

SearcherLease = Callable[[], AbstractContextManager[Searcher]]


def build_mcp_server(searcher_lease: SearcherLease) -> MCPServer:
    """The MCP server; tools and resources read through ``searcher_lease``."""
    server = MCPServer(
        "rag",
        instructions="Semantic search over the user's indexed documents. Call `search` with a question: every passage "
        "comes with its citation (file, character span, lines, page). Quote passages with their [n] markers; "
        "`get_document_span` shows a cited span in its context.",
    )

    @server.tool()
    def search(
        query: str,
        top_k: int = 5,
        mode: str | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> CallToolResult:
        """Find the passages of the indexed documents that answer `query`. `mode`: hybrid (default), dense or bm25;
        `source`: a glob on the file path; `date_from`/`date_to`: YYYY-MM-DD bounds on the document date. Each
        passage has its citation and its answering sentence; `answerable` is false when none seems to answer."""
        try:
            filters = SearchFilters(
                source=source,
                date_from=date.fromisoformat(date_from) if date_from else None,
                date_to=date.fromisoformat(date_to) if date_to else None,
            )
            with searcher_lease() as searcher:
                hits = searcher.search(query, top_k, None if filters.is_empty else filters, mode=mode)
        except (RagError, ValueError) as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        verdict = answerable(hits)
        lines = [] if verdict is not False else ["No passage in the index seems to answer this; closest matches:", ""]
        for hit in hits:
            lines += [f"[{hit.rank}] {source_label(hit)}", f"answer: {answering_sentence(hit)}", hit.text, ""]
        structured = {"query": query, "answerable": verdict, "results": [hit.to_dict() for hit in hits]}
        text = "\n".join(lines) or "No passage found."
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)

    @server.tool()
    def get_document_span(doc_id: str, start: int, end: int, page: int | None = None) -> CallToolResult:
        """The cited text of a document (`doc_id`, `start`, `end` and, for a PDF, `page`, as a search citation
        gives them) with a little context on each side."""
        try:
            with searcher_lease() as searcher:
                text = searcher.document_text(doc_id, page, for_span=True)
            span = span_in(text, start, end)
        except (RagError, ValueError) as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        before, after = text[max(0, start - CONTEXT_CHARS) : start], text[end : end + CONTEXT_CHARS]
        structured = {
            "doc_id": doc_id, "page": page, "start": start, "end": end, "text": span.text,
            "line_start": span.line_start, "line_end": span.line_end, "before": before, "after": after,
        }  # fmt: skip
        return CallToolResult(
            content=[TextContent(type="text", text=f"…{before}»{span.text}«{after}…")], structured_content=structured
        )

    @server.resource("rag://documents", name="documents", mime_type="application/json")
    def documents() -> str:
        """Every indexed document: id, source, title, date, size."""
        with searcher_lease() as searcher:
            listed = [
                {"doc_id": d.doc_id, "source": d.source, "title": d.title, "date": d.date, "chars": d.n_chars}
                for d in searcher.documents()
            ]
        return json.dumps(listed, ensure_ascii=False)

    @server.resource("rag://documents/{doc_id}", name="document", mime_type="text/plain")
    def document(doc_id: str) -> str:
        """One indexed document's text, as its citations count it (a PDF's pages one after the other)."""
        with searcher_lease() as searcher:
            return searcher.document_text(doc_id)

    return server
