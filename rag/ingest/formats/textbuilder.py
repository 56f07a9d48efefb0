"""Extracted text assembled block by block, with its pages, heading sections and tables recorded as spans of it:
the one text an extracted document (PDF, HTML, DOCX) is cited in."""

from __future__ import annotations

from rag.textforms import searchable
from rag.types import Page, Section, Table


class UnreadableError(Exception):
    """The file cannot be opened as what its name says; the message says why, for the skipped-files report."""


class TextBuilder:
    """Extracted text assembled block by block (blocks separated by a blank line), recording heading sections,
    tables and pages as spans of the final text. Text past ``limit`` characters is dropped (``cut`` counts it)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.cut = 0
        """Characters of extracted text dropped at the limit."""
        self.parts: list[str] = []
        self.length = 0
        self.newlines = 0
        self.sections: list[Section] = []
        self.tables: list[Table] = []
        self.pages: list[Page] = []
        self.notes: list[str] = []
        """What was read but not cleanly (bytes a page's charset does not decode), reported beside the document."""
        self._headings: list[tuple[int, str]] = []
        self._section_start: int | None = None

    def block(self, text: str) -> tuple[int, int] | None:
        """Append a paragraph in its searchable form (``rag.textforms``: NFKC, no control or invisible characters),
        inner white space collapsed; return its span."""
        cleaned = "\n".join(" ".join(line.split()) for line in searchable(text).strip().splitlines() if line.strip())
        if not cleaned:
            return None
        room = None if self.limit is None else self.limit - self.length - (2 if self.length else 0)
        if room is not None and room < len(cleaned):
            self.cut += len(cleaned) - max(room, 0)
            cleaned = cleaned[: max(room, 0)].rstrip()
            if not cleaned:
                return None
        if self.length:
            self._append("\n\n")
        start = self.length
        self._append(cleaned)
        return start, self.length

    @property
    def full(self) -> bool:
        """Whether the limit has been reached (extractors stop reading then)."""
        return self.cut > 0

    def heading(self, level: int, text: str) -> None:
        """Start a section: its path is the enclosing headings' texts and this one's, joined by `` > ``."""
        title = " ".join(searchable(text).split())
        if not title:
            return
        self._close_section()
        self._headings = [(lvl, t) for lvl, t in self._headings if lvl < level] + [(level, title)]
        span = self.block(title)
        self._section_start = span[0] if span else self.length

    def heading_at(self, level: int, text: str, offset: int) -> None:
        """Start a section at ``offset`` of the text built so far, adding no text: a PDF's outline names sections
        whose headings the pages' text already holds. Offsets must not go back (a section cannot start before the
        one it closes)."""
        title = " ".join(searchable(text).split())
        if not title or not (self._section_start or 0) <= offset <= self.length:
            return
        self._close_section(offset)
        self._headings = [(lvl, t) for lvl, t in self._headings if lvl < level] + [(level, title)]
        self._section_start = offset

    @property
    def last_block(self) -> str:
        """The text the last block added, as added (a PDF page's, just after ``page``)."""
        return self.parts[-1] if self.parts else ""

    def table(self, rows: list[list[str]]) -> None:
        """One line per row, cells joined by `` | ``; the first row is the header."""
        cells = [[" ".join(searchable(cell).split()) for cell in row] for row in rows]
        lines = [" | ".join(row) for row in cells if any(row)]
        if not lines:
            return
        span = self.block("\n".join(lines))
        if span:
            self.tables.append(Table(span[0], span[1], min(span[1], span[0] + len(lines[0]))))

    def page(self, number: int, text: str, label: str | None) -> bool:
        """A PDF page as one stretch of text; False (nothing added) when it has no text."""
        span = self.block(text)
        if span is None:
            return False
        first_line = self.newlines - self.parts[-1].count("\n") + 1  # the page's text is the last part appended
        self.pages.append(Page(span[0], span[1], number, label, first_line))
        return True

    def build(self) -> str:
        self._close_section()
        return "".join(self.parts)

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)
        self.newlines += text.count("\n")

    def _close_section(self, end: int | None = None) -> None:
        end = self.length if end is None else end
        if self._section_start is not None and self._headings and end > self._section_start:
            path = " > ".join(t for _, t in self._headings)
            self.sections.append(Section(self._section_start, end, path))
        self._section_start = None
