"""Markdown: the file's own text is cited; only its heading sections and tables are located (markdown-it-py)."""

from __future__ import annotations

import re

from rag.types import Section, Table


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
            headings.append((offset(token.map[0]), int(token.tag[1]), tokens[i + 1].content.strip()))
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
