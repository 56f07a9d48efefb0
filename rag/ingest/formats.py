"""Documents that are not plain text: PDF (pypdf), HTML (selectolax), DOCX (python-docx), and the structure of
Markdown (markdown-it-py).

PDF, HTML and DOCX are cited in the text extracted here, which the index stores and serves: that text is built
once, with its pages, heading sections and tables recorded as spans of it. Markdown is cited in the file's own
text; only its headings and tables are located.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from rag.ingest.decoding import UndecodableFileError, decode_bytes
from rag.ingest.reading import LoadLimits, display_path, file_doc_id, megabytes, shorten
from rag.types import Document, Page, Section, SkippedFile, Table

logger = logging.getLogger(__name__)


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
        self._headings: list[tuple[int, str]] = []
        self._section_start: int | None = None

    def block(self, text: str) -> tuple[int, int] | None:
        """Append a paragraph (inner white space collapsed); return its span."""
        cleaned = "\n".join(" ".join(line.split()) for line in text.strip().splitlines() if line.strip())
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

    def _close_section(self) -> None:
        if self._section_start is not None and self._headings:
            path = " > ".join(t for _, t in self._headings)
            self.sections.append(Section(self._section_start, self.length, path))
        self._section_start = None


def load_extracted(path: Path, data: bytes, limits: LoadLimits | None = None) -> Iterator[Document | SkippedFile]:
    """A PDF, HTML or DOCX file (its ``data``, read once) as a ``Document`` of its extracted text, or why it was
    skipped; pages without text and a cut at ``limits.max_extracted_chars`` are reported beside it."""
    limits = limits or LoadLimits()
    source, doc_id = display_path(path), file_doc_id(path)
    if not data:
        yield SkippedFile(source, "empty file (0 bytes)")
        return
    suffix = path.suffix.lower()
    builder = TextBuilder(limits.max_extracted_chars)
    blank_pages: list[SkippedFile] = []
    try:
        if suffix == ".pdf":
            fmt, title = "pdf", None
            blank_pages = _extract_pdf(source, data, builder)
        elif suffix == ".docx":
            fmt, title = "docx", _extract_docx(data, builder, limits)
        else:
            fmt, title = "html", _extract_html(data, builder)
    except _Unreadable as exc:
        yield SkippedFile(source, str(exc), doc_id=doc_id)
        return
    text = builder.build()
    if not text.strip():
        yield SkippedFile(source, f"no text found in this {fmt.upper()} file", doc_id=doc_id)
        return
    yield from blank_pages
    yield Document(
        doc_id=doc_id,
        source=source,
        text=text,
        encoding=f"extracted from {fmt}",
        sha256=hashlib.sha256(data).hexdigest(),
        title=title,
        format=fmt,
        pages=tuple(builder.pages),
        sections=tuple(builder.sections),
        tables=tuple(builder.tables),
    )
    if builder.full:
        yield SkippedFile(source, limits.cut_reason())


class _Unreadable(Exception):
    """The file cannot be opened as what its name says."""


def _extract_pdf(source: str, data: bytes, builder: TextBuilder) -> list[SkippedFile]:
    """Pages in physical order; a page without text is left out and returned as ``file#page=N`` to report."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Unreadable("encrypted PDF: it needs a password, which rag does not take")
        pages = list(reader.pages)
        labels = _page_labels(reader, len(pages))
        blank, with_images = [], 0
        for number, page in enumerate(pages, start=1):
            if builder.full:
                break
            if not builder.page(number, page.extract_text() or "", labels[number - 1]) and not builder.full:
                blank.append(SkippedFile(f"{source}#page={number}", "page has no extractable text (a scanned image?)"))
                with_images += _has_images(page)
    except _Unreadable:
        raise
    except Exception as exc:  # pypdf raises PdfReadError and assorted others on damaged files; none may stop the run
        raise _Unreadable(f"not a readable PDF ({type(exc).__name__}: {shorten(str(exc))})") from None
    if builder.length == 0:
        raise _Unreadable(_no_pdf_text_reason(len(pages), with_images))
    return blank


def _has_images(page) -> bool:
    try:
        return len(page.images) > 0
    except Exception:  # a damaged resource dictionary: then it has no image we could tell of
        return False


def _no_pdf_text_reason(page_count: int, with_images: int) -> str:
    """Why a PDF gave no text: no pages at all, pages of images (scans), or pages with neither (damaged)."""
    if page_count == 0:
        return "the PDF has no pages that can be read (its page tree is empty or broken)"
    if with_images == 0:
        return f"none of its {page_count} pages holds text or images: an empty or damaged PDF"
    return f"no extractable text on any of its {page_count} pages (scanned images? OCR is not supported)"


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

    text = _decode_html(data)
    depth = _nesting_depth(text)
    if depth > MAX_HTML_DEPTH:
        raise _Unreadable(
            f"elements nested {depth:,} deep; pages nested over {MAX_HTML_DEPTH:,} deep are refused (real pages nest "
            "a few dozen, and parsing costs grow with the square of the depth)"
        )
    tree = HTMLParser(text)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else None
    for node in tree.css(_DROPPED):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body or tree.root
    if root is not None:
        _walk_html(root, builder)
    return title or None


MAX_HTML_DEPTH = 5_000
"""Deepest element nesting parsed: the HTML parser's time grows with the square of the depth (100,000 levels take
about 25 s), while browsers themselves stop nesting at a few hundred."""
_CONTAINER_TAG = re.compile(
    r"<(/?)(?:div|span|section|article|main|aside|nav|header|footer|blockquote|ul|ol|dl|table|form|fieldset|figure"
    r"|details|center)\b[^>]*?(/?)>",
    re.IGNORECASE,
)
"""Elements that nest until closed (no implied end tag, not re-parented like <b> or <font>)."""


def _nesting_depth(html: str) -> int:
    """The deepest nesting of container elements, counted from their tags in one pass (before parsing)."""
    depth = deepest = 0
    for match in _CONTAINER_TAG.finditer(html):
        if match.group(2):
            continue
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


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


def _walk_html(root, builder: TextBuilder) -> None:
    """Blocks in document order. Depth-first with an explicit stack: a page nested thousands of levels deep costs
    memory in proportion, never Python's recursion limit."""
    stack = [root.iter(include_text=True)]
    while stack and not builder.full:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
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
        elif tag != "br":
            stack.append(child.iter(include_text=True))


def _extract_docx(data: bytes, builder: TextBuilder, limits: LoadLimits) -> str | None:
    """Paragraphs, headings (styles ``Heading N`` and ``Title``) and tables, in body order."""
    import docx
    from docx.table import Table as DocxTable
    from docx.text.paragraph import Paragraph

    _check_inflation(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML or package errors for anything that is not DOCX
        raise _Unreadable(f"not a readable DOCX ({type(exc).__name__}: {shorten(str(exc))})") from None
    for element in document.element.body.iterchildren():
        if builder.full:
            break
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


_BOMB_PART_BYTES = 1 << 20
"""Parts smaller than this inflate to too little to matter, whatever their ratio."""


def _check_inflation(data: bytes, limits: LoadLimits) -> None:
    """Refuse a DOCX whose parts would inflate past ``max_decompressed_bytes`` in all, or one of whose large parts
    inflates more than ``max_compression_ratio`` times, before anything is decompressed. The sizes come from the
    zip directory; Python's zipfile never inflates a part past its declared size, so a lying header gains nothing."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise _Unreadable(f"not a readable DOCX ({type(exc).__name__}: {shorten(str(exc))})") from None
    total = sum(part.file_size for part in parts)
    if total > limits.max_decompressed_bytes:
        raise _Unreadable(
            f"its parts would inflate to {megabytes(total)}; the limit is {megabytes(limits.max_decompressed_bytes)} "
            "(RAG_MAX_DECOMPRESSED_BYTES)"
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _BOMB_PART_BYTES and ratio > limits.max_compression_ratio:
            raise _Unreadable(
                f"part {part.filename} would inflate {ratio:,.0f} times ({part.compress_size:,} to {part.file_size:,} "
                f"bytes; the limit is {limits.max_compression_ratio:,.0f}, RAG_MAX_COMPRESSION_RATIO): a zip bomb?"
            )


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
