"""Turn ranked passages into the assistant message a chat front end shows: the answering sentences first, each
marked ``[n]``, then the passages trimmed around them, then the sources as links; and the OpenAI ``url_citation``
annotations that let a front end (Open WebUI) show those sources as its own chips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.links import LinkSigner, span_link
from rag.search.answerability import answerable
from rag.types import Hit

PASSAGE_CONTEXT_CHARS = 240
"""Characters of a passage kept on each side of its answering sentence in a chat reply."""


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


@dataclass(frozen=True)
class Reply:
    """An assistant message in pieces (streamed as they are) and its ``url_citation`` annotations, whose
    ``start_index``/``end_index`` count characters of the joined pieces."""

    parts: list[str]
    annotations: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return "".join(self.parts)


def answering_sentence(hit: Hit) -> str:
    """The passage's sentence closest to the question (its highlight), or its opening when it has none."""
    if hit.highlight is None:
        return _shortened(hit.text, 0, min(len(hit.text), 2 * PASSAGE_CONTEXT_CHARS))
    start, end = hit.highlight.start - hit.citation.start, hit.highlight.end - hit.citation.start
    return " ".join(hit.text[start:end].split())


def trimmed_passage(hit: Hit) -> str:
    """The passage cut to ``PASSAGE_CONTEXT_CHARS`` around its answering sentence, with "…" where cut."""
    if hit.highlight is None:
        return _shortened(hit.text, 0, min(len(hit.text), 2 * PASSAGE_CONTEXT_CHARS))
    start = max(0, hit.highlight.start - hit.citation.start - PASSAGE_CONTEXT_CHARS)
    end = min(len(hit.text), hit.highlight.end - hit.citation.start + PASSAGE_CONTEXT_CHARS)
    return _shortened(hit.text, start, end)


def _shortened(text: str, start: int, end: int) -> str:
    """``text[start:end]`` widened to whole words, "…" marking a cut."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return ("… " if start > 0 else "") + text[start:end].strip() + (" …" if end < len(text) else "")


def chat_reply(hits: Sequence[Hit], base_url: str, signer: LinkSigner | None = None) -> Reply:
    """The reply to a question: what answers it (or a plain sentence that nothing seems to), the passages,
    and the sources as links. The question is never repeated back."""
    if not hits:
        return Reply(["Nothing in the indexed documents matches this question."], [])
    parts: list[str] = []
    if answerable(hits) is False:
        parts.append("The documents do not seem to hold the answer to this. The closest passages:\n\n")
    parts.append("".join(f"{answering_sentence(h)} [{h.rank}]\n" for h in hits) + "\n")
    for hit in hits:
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in trimmed_passage(hit).splitlines())
        parts.append(f"[{hit.rank}] {source_label(hit)}\n{quoted}\n\n")
    sources, annotations = "Sources:\n", []
    offset = len("".join(parts))
    for hit in hits:
        url, title = span_link(base_url, hit, signer), source_label(hit)
        link = f"[{title}]({url})"
        start = offset + len(sources) + len(f"[{hit.rank}] ")
        annotations.append(
            {
                "type": "url_citation",
                "url_citation": {"url": url, "title": title, "start_index": start, "end_index": start + len(link)},
            }
        )
        sources += f"[{hit.rank}] {link}\n"
    parts.append(sources)
    return Reply(parts, annotations)
