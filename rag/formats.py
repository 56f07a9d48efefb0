"""Documents that are not plain text: PDF (pypdf), HTML (selectolax), DOCX (python-docx), and the structure of
Markdown (markdown-it-py).

PDF, HTML and DOCX are cited in the text extracted here, which the index stores and serves: that text is built
once, with its pages, heading sections and tables recorded as spans of it. Markdown is cited in the file's own
text; only its headings and tables are located.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from rag.loading import (
    Document,
    Page,
    Section,
    SkippedFile,
    Table,
    UndecodableFileError,
    decode_bytes,
    file_doc_id,
)

logger = logging.getLogger(__name__)


class TextBuilder:
    """Extracted text assembled block by block (blocks separated by a blank line), recording heading sections,
    tables and pages as spans of the final text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.newlines = 0
        self.sections: list[Section] = []
        self.tables: list[Table] = []
        self.pages: list[Page] = []
        self.page_count = 0
        self._headings: list[tuple[int, str]] = []
        self._section_start: int | None = None

    def block(self, text: str) -> tuple[int, int] | None:
        """Append a paragraph (inner white space collapsed); return its span."""
        cleaned = "\n".join(" ".join(line.split()) for line in text.strip().splitlines() if line.strip())
        if not cleaned:
            return None
        if self.length:
            self._append("\n\n")
        start = self.length
        self._append(cleaned)
        return start, self.length

    def heading(self, level: int, text: str) -> None:
        """Start a section: its path is the enclosing headings' texts and this one's, joined by `` > ``."""
        title = " ".join(text.split())
        if not title:
            return
        self._close_section()
        self._headings = [(lvl, t) for lvl, t in self._headings if lvl < level] + [(level, title)]
        span = self.block(title)
        self._section_start = span[0] if span else self.length

    def table(self, rows: list[list[str]]) -> None:
        """One line per row, cells joined by `` | ``; the first row is the header."""
        lines = [" | ".join(" ".join(cell.split()) for cell in row) for row in rows if any(c.strip() for c in row)]
        if not lines:
            return
        span = self.block("\n".join(lines))
        if span:
            self.tables.append(Table(span[0], span[1], span[0] + len(lines[0])))

    def page(self, number: int, text: str, label: str | None) -> bool:
        """A PDF page as one stretch of text; False (nothing added) when it has no text."""
        self.page_count += 1
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

    def _close_section(self) -> None:
        if self._section_start is not None and self._headings:
            path = " > ".join(t for _, t in self._headings)
            self.sections.append(Section(self._section_start, self.length, path))
        self._section_start = None


def load_extracted(path: Path) -> Iterator[Document | SkippedFile]:
    """A PDF, HTML or DOCX file as a ``Document`` of its extracted text, or why it was skipped."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield SkippedFile(str(path), f"cannot read: {exc.strerror or exc}")
        return
    if not data:
        yield SkippedFile(str(path), "empty file (0 bytes)")
        return
    suffix = path.suffix.lower()
    builder = TextBuilder()
    blank_pages: list[SkippedFile] = []
    try:
        if suffix == ".pdf":
            fmt, title = "pdf", None
            blank_pages = _extract_pdf(path, builder)
        elif suffix == ".docx":
            fmt, title = "docx", _extract_docx(path, builder)
        else:
            fmt, title = "html", _extract_html(data, builder)
    except _Unreadable as exc:
        yield SkippedFile(str(path), str(exc))
        return
    text = builder.build()
    if not text.strip():
        reason = f"no extractable text on any of its {builder.page_count} pages (scanned images? OCR is not supported)"
        yield SkippedFile(str(path), reason if fmt == "pdf" else f"no text found in this {fmt.upper()} file")
        return
    yield from blank_pages
    yield Document(
        doc_id=file_doc_id(path),
        source=str(path),
        text=text,
        encoding=f"extracted from {fmt}",
        sha256=hashlib.sha256(data).hexdigest(),
        title=title,
        format=fmt,
        pages=tuple(builder.pages),
        sections=tuple(builder.sections),
        tables=tuple(builder.tables),
    )


class _Unreadable(Exception):
    """The file cannot be opened as what its name says."""


def _extract_pdf(path: Path, builder: TextBuilder) -> list[SkippedFile]:
    """Pages in physical order; a page without text is left out and returned as ``file#page=N`` to report."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Unreadable("encrypted PDF: it needs a password, which rag does not take")
        pages = list(reader.pages)
        labels = _page_labels(reader, len(pages))
        blank = []
        for number, page in enumerate(pages, start=1):
            if not builder.page(number, page.extract_text() or "", labels[number - 1]):
                blank.append(SkippedFile(f"{path}#page={number}", "page has no extractable text (a scanned image?)"))
        return blank
    except _Unreadable:
        raise
    except Exception as exc:  # pypdf raises PdfReadError and assorted others on damaged files; none may stop the run
        raise _Unreadable(f"not a readable PDF ({type(exc).__name__}: {exc})") from None


def _page_labels(reader, count: int) -> list[str | None]:
    """The PDF's own page labels, or None for each page when it defines none."""
    try:
        if "/PageLabels" not in reader.trailer["/Root"]:
            return [None] * count
        return list(reader.page_labels)[:count] + [None] * max(0, count - len(reader.page_labels))
    except Exception:  # labels are a nicety; a damaged label tree must not lose the text
        return [None] * count


_HEADING = re.compile(r"h([1-6])")
_DROPPED = "script, style, noscript, template, nav, header, footer, aside, form, svg, iframe, button"
_BLOCKS = frozenset({"p", "li", "pre", "blockquote", "dd", "dt", "figcaption", "caption", "address", "summary"})


def _extract_html(data: bytes, builder: TextBuilder) -> str | None:
    """Main text without navigation, scripts and styles; headings as sections; tables by rows."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(_decode_html(data))
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else None
    for node in tree.css(_DROPPED):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body or tree.root
    if root is not None:
        _walk_html(root, builder)
    return title or None


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _decode_html(data: bytes) -> str:
    """Decode with the charset the page declares (a page that breaks its own declaration is refused, not
    guessed at); without a declaration, as any text file."""
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        charset = declared.group(1).decode("ascii").lower()
        try:
            return data.decode(charset)
        except LookupError:
            pass  # an unknown charset name: detect instead
        except UnicodeDecodeError as exc:
            raise _Unreadable(
                f"declares charset {charset} but byte {exc.start} ({data[exc.start : exc.start + 1]!r}) is not valid "
                f"{charset}; fix or re-save the page"
            ) from None
    try:
        return decode_bytes(data)[0]
    except UndecodableFileError as exc:
        raise _Unreadable(str(exc)) from None


def _walk_html(node, builder: TextBuilder) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            builder.block(child.text(deep=False))
        elif match := _HEADING.fullmatch(tag):
            builder.heading(int(match.group(1)), child.text(separator=" "))
        elif tag == "table":
            rows = [[cell.text(separator=" ") for cell in row.css("th, td")] for row in child.css("tr")]
            builder.table(rows)
        elif tag in _BLOCKS:
            builder.block(child.text(separator=" "))
        elif tag == "br":
            continue
        else:
            _walk_html(child, builder)


def _extract_docx(path: Path, builder: TextBuilder) -> str | None:
    """Paragraphs, headings (styles ``Heading N`` and ``Title``) and tables, in body order."""
    import docx
    from docx.table import Table as DocxTable
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zip, XML or package errors for anything that is not DOCX
        raise _Unreadable(f"not a readable DOCX ({type(exc).__name__}: {exc})") from None
    for element in document.element.body.iterchildren():
        if element.tag.endswith("}p"):
            paragraph = Paragraph(element, document)
            style = paragraph.style.name if paragraph.style is not None else ""
            level = _docx_heading_level(style)
            if level:
                builder.heading(level, paragraph.text)
            else:
                builder.block(paragraph.text)
        elif element.tag.endswith("}tbl"):
            table = DocxTable(element, document)
            builder.table([[cell.text for cell in row.cells] for row in table.rows])
    return document.core_properties.title or None


def _docx_heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", style)
    return int(match.group(1)) if match else 0


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
