"""Citations: where a passage is, in the coordinates a reader can check. One place turns stored offsets into
citation coordinates (the document's text, or a PDF page's text) and counts lines, for search results and for
the spans the documents endpoint serves alike."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidQueryError
from rag.index.store import StoredChunk
from rag.textforms import line_breaks, line_number
from rag.types import Citation, Hit, Span


def display_source(source: str, cwd: Path | None = None) -> str:
    """A source path relative to ``cwd`` (default: the working directory) when it lies under it, otherwise
    unchanged (absolute)."""
    base = str(cwd or Path.cwd())
    prefix = base if base.endswith(os.sep) else base + os.sep
    return source[len(prefix) :] if source.startswith(prefix) else source


def to_hit(
    rank: int,
    score: float,
    chunk: StoredChunk,
    highlight: Span | None,
    display_root: Path,
    relevance: float | None = None,
) -> Hit:
    """A result in citation coordinates: the document's text, or the page's text for a PDF; the source relative
    to ``display_root`` when it lies under it."""
    shift, line_shift = chunk.page_start, chunk.page_line - 1
    return Hit(
        rank=rank,
        score=round(score, 6),
        text=chunk.text,
        citation=Citation(
            source=display_source(chunk.source, display_root),
            start=chunk.start - shift,
            end=chunk.end - shift,
            line_start=chunk.line_start - line_shift,
            line_end=chunk.line_end - line_shift,
            date=chunk.date,
            doc_id=chunk.doc_id,
            section=chunk.section,
            page=chunk.page,
            page_label=chunk.page_label,
        ),
        highlight=Span(highlight.start - shift, highlight.end - shift) if highlight else None,
        relevance=relevance,
    )


@dataclass(frozen=True)
class CitedSpan:
    """A span of a document's cited text (the text itself, or one PDF page's) with its 1-based lines."""

    start: int
    end: int
    line_start: int
    line_end: int
    text: str


def span_in(text: str, start: int, end: int) -> CitedSpan:
    """``text[start:end]`` with the lines it covers, counted the way citations count them; a span outside the
    text is an ``InvalidQueryError``."""
    if not 0 <= start <= end <= len(text):
        raise InvalidQueryError(f"span {start}:{end} is outside the document (0 <= start <= end <= {len(text)})")
    breaks = line_breaks(text)
    return CitedSpan(start, end, line_number(breaks, start), line_number(breaks, end), text[start:end])
