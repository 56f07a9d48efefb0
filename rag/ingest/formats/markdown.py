"""Markdown: the file's own text is cited; only its heading sections and tables are located (markdown-it-py), and
a front matter block (the YAML or TOML metadata of static-site generators and note apps) is read for the title and
date."""

from __future__ import annotations

import datetime
import logging
import re
import tomllib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rag.types import Document, Section, Table

if TYPE_CHECKING:
    from markdown_it.token import Token

logger = logging.getLogger(__name__)

_FRONT_MATTER = re.compile(
    r"\A(?P<fence>---|\+\+\+)[ \t]*\r?\n(?P<body>.*?)^(?:(?P=fence)|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)
MAX_FRONT_MATTER_CHARS = 65_536
"""Longer leading blocks are not read as metadata (front matter is a few lines; a parser is not run on a book)."""


@dataclass(frozen=True)
class FrontMatter:
    """A leading ``---`` (YAML) or ``+++`` (TOML) metadata block: where it ends, and the title and ISO date it
    gives (when it gives them as a string and a date)."""

    end: int
    title: str | None
    date: str | None


def front_matter(text: str, start: int = 0) -> FrontMatter | None:
    """The front matter at ``start``, or None: the block must parse (as YAML between ``---`` lines, as TOML
    between ``+++``) to a mapping, so a page that merely opens with a thematic break is not taken for one."""
    match = _FRONT_MATTER.match(text[start : start + MAX_FRONT_MATTER_CHARS + 8])
    if match is None:
        return None
    fields = _parsed(match.group("body"), toml=match.group("fence") == "+++")
    if not isinstance(fields, dict):
        return None
    title = fields.get("title")
    title = title.strip() or None if isinstance(title, str) else None
    return FrontMatter(start + match.end(), title, _iso_date(fields.get("date")))


def _parsed(block: str, *, toml: bool) -> object:
    if toml:
        try:
            return tomllib.loads(block)
        except tomllib.TOMLDecodeError:
            return None
    import yaml

    try:
        return yaml.safe_load(block)
    except yaml.YAMLError:
        return None


def _iso_date(value: object) -> str | None:
    """A front matter date (YAML and TOML read ``2021-03-04`` and ``2021-03-04T10:00:00Z`` as dates), or an ISO
    string, as ``YYYY-MM-DD``."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None


def markdown_document(document: Document) -> Document:
    """``document`` (a Markdown file's decoded text) with its heading sections and tables located, and the title
    and date its front matter gives (a leading ``date`` header keeps its precedence). The front matter stays in
    the text, and in passages (descriptions and tags are worth finding); it is only kept out of the headings:
    YAML's closing ``---`` would otherwise make its last line a setext heading over the whole page."""
    metadata = front_matter(document.text, document.body_start)
    sections, tables = markdown_structure(document.text, metadata.end if metadata else document.body_start)
    title = document.title or (metadata.title if metadata else None)
    date = document.date or (metadata.date if metadata else None)
    if metadata:
        logger.debug("front matter in %s: title %r, date %s", document.source, title, date)
    return replace(document, format="markdown", sections=sections, tables=tables, title=title, date=date)


def markdown_structure(text: str, body_start: int = 0) -> tuple[tuple[Section, ...], tuple[Table, ...]]:
    """Heading sections and tables of a Markdown text, as spans of that text (markdown-it-py's source maps)."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable("table")
    body = text[body_start:]
    line_starts = [0]
    for match in re.finditer(r"\n", body):
        line_starts.append(match.end())
    line_starts.append(len(body))

    def offset(line: int) -> int:
        return body_start + line_starts[min(line, len(line_starts) - 1)]

    def line_end(line: int) -> int:
        """Offset of the end of ``line``'s text (before its newline)."""
        end = offset(line + 1)
        return end - 1 if end > offset(line) and text[end - 1 : end] == "\n" else end

    tokens = parser.parse(body)
    headings: list[tuple[int, int, str]] = []
    tables: list[Table] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            headings.append((offset(token.map[0]), int(token.tag[1]), _shown_text(tokens[i + 1])))
        elif token.type == "table_open" and token.map:
            first, last = token.map
            end = line_end(last - 1)
            while end > offset(first) and text[end - 1].isspace():
                end -= 1
            tables.append(Table(offset(first), end, line_end(first + 1)))
    sections = []
    stack: list[tuple[int, str]] = []
    for n, (start, level, title) in enumerate(headings):
        stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
        end = headings[n + 1][0] if n + 1 < len(headings) else len(text)
        sections.append(Section(start, end, " > ".join(t for _, t in stack)))
    return tuple(sections), tuple(tables)


def _shown_text(inline: Token) -> str:
    """A heading's text as a reader sees it: "[1.13.0](https://...) (2025-10-27)" is "1.13.0 (2025-10-27)" (link
    targets, emphasis marks and inline HTML left out, an image by its alt text)."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())
