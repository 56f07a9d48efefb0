"""Turn ranked passages into the assistant message a chat front end shows: quoted passages under numbered
markers, then the list of sources."""

from __future__ import annotations

from rag.search.answerability import answerable
from rag.types import Hit


def lines_label(hit: Hit) -> str:
    cite = hit.citation
    return f"line {cite.line_start}" if cite.line_start == cite.line_end else f"lines {cite.line_start}-{cite.line_end}"


def source_label(hit: Hit) -> str:
    """``file, lines a-b, date`` for a sources list or a link title."""
    page = f"page {hit.citation.page}" if hit.citation.page else None
    parts = [hit.citation.source, *(x for x in (page, hit.citation.section) if x), lines_label(hit)]
    if hit.citation.date:
        parts.append(hit.citation.date)
    return ", ".join(parts)


def answer_parts(query: str, hits: list[Hit]) -> list[str]:
    """The assistant message as pieces (one per passage, then the sources), so it can be streamed as it is. When
    no passage seems to answer, the message says so before quoting the closest ones."""
    if not hits:
        return [f"No passage in the index answers “{query}”."]
    if answerable(hits) is False:
        opening = f"The documents do not seem to hold the answer to “{query}”. The closest passages:\n\n"
    else:
        opening = f"Passages that answer “{query}”:\n\n"
    parts = [opening]
    for hit in hits:
        quoted = "\n".join(f"> {line}" if line else ">" for line in hit.text.splitlines())
        parts.append(f"[{hit.rank}] (score {hit.score:.2f})\n{quoted}\n\n")
    parts.append("Sources:\n" + "\n".join(f"[{hit.rank}] {source_label(hit)}" for hit in hits) + "\n")
    return parts
