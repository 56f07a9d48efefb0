"""PDF: each page's text in physical order (PDFium, through pypdfium2), with the PDF's own page labels, and the
running headers and footers that repeat on most pages left out.

PDFium was chosen by measurement against poppler's pdftotext on real papers, slides and standards (README,
"Measured > Real documents"): it found 98-99% of pdftotext's words where pypdf found 80% (pypdf read one paper as
glyph soup, emitted glyph names and dropped spaces in others), and it is 15 times faster.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rag.ingest.formats.textbuilder import TextBuilder, UnreadableError
from rag.ingest.reading import shorten
from rag.types import SkippedFile

_HYPHENATION = re.compile(r"[\x02\ufffe]")
"""PDFium's mark where it joined a word hyphenated across a line end (U+0002 from get_text_bounded)."""
_TEX_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0d": "fl", "\x0e": "ffi", "\x0f": "ffl"}
_UNMAPPED_LIGATURE = re.compile(r"(?<=[A-Za-z])[\x0b-\x0f]|[\x0b-\x0f](?=[a-z])")
"""A control character touching letters is a ligature of an old TeX font (OT1 encoding) that has no Unicode map:
"o\x0bered" is "offered". pdftotext drops these ("oered")."""


def extract_pdf(source: str, data: bytes, builder: TextBuilder) -> list[SkippedFile]:
    """Pages in physical order, running headers and footers left out; a page without text is left out and returned
    as ``file#page=N`` to report. PDFium is not thread-safe: call this from one thread at a time (indexing does)."""
    import pypdfium2 as pdfium

    document = _open_pdf(data)
    try:
        edges = [_page_edges(document, index) for index in range(len(document))]
        furniture = running_lines(edges)
        blank, with_images = [], 0
        for index, page_edges in enumerate(edges):
            if builder.full:
                break
            text = _page_text(document, index, page_edges, furniture)
            label = document.get_page_label(index) or None
            if not builder.page(index + 1, text, label) and not builder.full:
                if page_edges.keys:  # it had text, all of it running header and footer: a blank page of a book
                    continue
                reason = "page has no extractable text (a scanned image?)"
                blank.append(SkippedFile(f"{source}#page={index + 1}", reason))
                with_images += _has_images(document, index)
    except pdfium.PdfiumError as exc:  # a damaged page tree or content stream: none may stop the run
        raise UnreadableError(f"not a readable PDF ({shorten(str(exc))})") from None
    finally:
        document.close()
    if builder.length == 0:
        raise UnreadableError(_no_pdf_text_reason(len(edges), with_images))
    return blank


def _open_pdf(data: bytes):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise UnreadableError("encrypted PDF: it needs a password, which rag does not take") from None
        raise UnreadableError(f"not a readable PDF ({shorten(str(exc))})") from None
    if document.get_formtype() == pdfium_c.FORMTYPE_ACRO_FORM:
        document.init_forms()  # before any page is loaded: fields without a drawn appearance get one
    return document


def _page_with_annotations_drawn(document, index: int):
    """Page ``index`` with its annotations merged into its content, as a viewer shows them: a filled-in form's
    values (and stamps, typed notes) are not in the page's text otherwise. Only the document in memory changes, so
    a page loaded again later reads the same text."""
    import pypdfium2.raw as pdfium_c

    page = document[index]
    if pdfium_c.FPDFPage_GetAnnotCount(page) > 0:
        if pdfium_c.FPDFPage_Flatten(page, pdfium_c.FLAT_NORMALDISPLAY) == pdfium_c.FLATTEN_SUCCESS:
            page.close()
            page = document[index]
    return page


@dataclass(frozen=True)
class PageEdges:
    """A page's box and text, and its top and bottom lines of text (where running headers and footers sit), by
    position on the page rather than by reading order: PDFium reads a header wherever the page's content stream
    draws it, sometimes glued to the end of the body."""

    box: tuple[float, float, float, float]
    text: str
    """The whole page's text: what is indexed unless a running line is cut off."""
    top: tuple[str, float] | None
    """The top line's text, and its lowest point."""
    bottom: tuple[str, float] | None
    """The bottom line's text, and its highest point."""

    @property
    def keys(self) -> list[str]:
        return [_furniture_key(edge[0]) for edge in (self.top, self.bottom) if edge is not None]


_MARGIN = 0.5


def _page_edges(document, index: int) -> PageEdges:
    page = _page_with_annotations_drawn(document, index)
    textpage = page.get_textpage()
    try:
        box = tuple(page.get_bbox())
        text = clean_page_text(textpage.get_text_bounded(*box))
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
        if not rects:
            return PageEdges(box, text, None, None)
        top_line = _same_line(rects, max(rects, key=lambda r: r[3]))
        bottom_line = _same_line(rects, min(rects, key=lambda r: r[1]))
        highest, top_floor = max(r[3] for r in top_line), min(r[1] for r in top_line)
        lowest, bottom_ceiling = min(r[1] for r in bottom_line), max(r[3] for r in bottom_line)
        left, right = box[0], box[2]
        top = textpage.get_text_bounded(left, top_floor - _MARGIN, right, highest + _MARGIN)
        bottom = textpage.get_text_bounded(left, lowest - _MARGIN, right, bottom_ceiling + _MARGIN)
        return PageEdges(box, text, (clean_page_text(top), top_floor), (clean_page_text(bottom), bottom_ceiling))
    finally:
        textpage.close()
        page.close()


def _same_line(rects: list[tuple[float, float, float, float]], anchor: tuple[float, float, float, float]) -> list:
    """The text rectangles on the line of ``anchor``: those sharing at least half of the shorter one's height with
    it (a drop cap, superscripts and mixed fonts stay on their line). A rectangle without height (text set in a
    font of size nearly 0, as invisible OCR layers are) is on the line it lies within, so the anchor is always on
    its own line."""

    def shared(rect: tuple[float, float, float, float]) -> bool:
        overlap = min(rect[3], anchor[3]) - max(rect[1], anchor[1])
        return overlap >= max(0.0, 0.5 * min(rect[3] - rect[1], anchor[3] - anchor[1]))

    return [rect for rect in rects if shared(rect)]


def _page_text(document, index: int, edges: PageEdges, furniture: frozenset[str]) -> str:
    """The page's text, cut below a running header and above a running footer (the page is read again only then)."""
    left, bottom, right, top = edges.box
    if edges.top is not None and _furniture_key(edges.top[0]) in furniture:
        top = edges.top[1] - _MARGIN
    if edges.bottom is not None and _furniture_key(edges.bottom[0]) in furniture:
        bottom = edges.bottom[1] + _MARGIN
    if (left, bottom, right, top) == edges.box:
        return edges.text
    page = document[index]
    textpage = page.get_textpage()
    try:
        return clean_page_text(textpage.get_text_bounded(left, bottom, right, top))
    finally:
        textpage.close()
        page.close()


def clean_page_text(text: str) -> str:
    """PDFium's page text with its own conventions undone: CRLF line ends, hyphenation marks between the halves
    of a joined word, TeX ligatures without a Unicode map. Other control characters (undecodable glyphs) and
    Unicode ligatures are left to ``TextBuilder``."""
    text = _HYPHENATION.sub("", text.replace("\r\n", "\n"))
    return _UNMAPPED_LIGATURE.sub(lambda match: _TEX_LIGATURES[match.group()], text)


def _has_images(document, index: int) -> bool:
    import pypdfium2.raw as pdfium_c

    page = document[index]
    try:
        return next(iter(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))), None) is not None
    except Exception:  # a damaged resource dictionary: then it has no image we could tell of
        return False
    finally:
        page.close()


RUNNING_SHARE = 0.4
"""A line is page furniture when it tops or tails at least this share of the pages (and at least three): under a
half, because books and papers alternate headers between even and odd pages."""
_NUMBERS = re.compile(r"\d+|\b[ivxlcdm]+\b")
_WORDLIKE = re.compile(r"[#\w]")
"""Furniture has a word or a page number in it: a closing brace that ends code on most slides is not furniture."""


def _furniture_key(line: str) -> str:
    """A line as it repeats from page to page: page numbers (arabic or roman) and spacing do not count (PDFium
    infers the spaces of a line from glyph positions, not always alike on every page)."""
    return _NUMBERS.sub("#", " ".join(line.lower().split())).replace(" ", "")


def running_lines(pages: list[PageEdges]) -> frozenset[str]:
    """The edge lines (as ``_furniture_key``s) that repeat on most pages with text: running headers, footers, page
    numbers, a slide deck's banner. Documents of fewer than four pages with text have none."""
    with_text = [page for page in pages if page.keys]
    if len(with_text) < 4:
        return frozenset()
    counts = Counter(key for page in with_text for key in set(page.keys))
    needed = max(3, RUNNING_SHARE * len(with_text))
    return frozenset(key for key, count in counts.items() if count >= needed and _WORDLIKE.search(key))


def _no_pdf_text_reason(page_count: int, with_images: int) -> str:
    """Why a PDF gave no text: no pages at all, pages of images (scans), or pages with neither (damaged)."""
    if page_count == 0:
        return "the PDF has no pages that can be read (its page tree is empty or broken)"
    if with_images == 0:
        return f"none of its {page_count} pages holds text or images: an empty or damaged PDF"
    return f"no extractable text on any of its {page_count} pages (scanned images? OCR is not supported)"
