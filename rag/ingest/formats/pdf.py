"""PDF: each page's text in physical order (PDFium, through pypdfium2), with the PDF's own page labels, and the
running headers and footers that repeat on most pages left out.

PDFium was chosen by measurement against poppler's pdftotext on real papers, slides and standards (README,
"Measured > Real documents"): it found 98-99% of pdftotext's words where pypdf found 80% (pypdf read one paper as
glyph soup, emitted glyph names and dropped spaces in others), and it is 15 times faster.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rag.ingest.formats.pdf_outline import OutlineEntry, heading_offsets, read_outline
from rag.ingest.formats.textbuilder import TextBuilder, UnreadableError
from rag.ingest.reading import shorten
from rag.types import SkippedFile

_HYPHENATION = re.compile(r"[\x02\ufffe]")
"""PDFium's mark where it joined a word hyphenated across a line end (U+0002 from get_text_bounded)."""
_TEX_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0d": "fl", "\x0e": "ffi", "\x0f": "ffl"}
_UNMAPPED_LIGATURE = re.compile(r"(?<=[A-Za-z])[\x0b-\x0f]|[\x0b-\x0f](?=[a-z])")
"""A control character touching letters is a ligature of an old TeX font (OT1 encoding) that has no Unicode map:
"o\x0bered" is "offered". pdftotext drops these ("oered")."""
_ACCENT_MARKS = {
    "`": "\u0300", "\u00b4": "\u0301", "^": "\u0302", "\u02c6": "\u0302", "~": "\u0303", "\u02dc": "\u0303",
    "\u00af": "\u0304", "\u02c9": "\u0304", "\u02d8": "\u0306", "\u02d9": "\u0307", "\u00a8": "\u0308",
    "\u02da": "\u030a", "\u02dd": "\u030b", "\u02c7": "\u030c", "\u00b8": "\u0327", "\u02db": "\u0328",
}  # fmt: skip
"""Accents that old TeX fonts (OT1, LaTeX's default) and some others draw as glyphs of their own over or under a
letter, and the combining marks they stand for: PDFium reads "Jiménez" set that way as "Jimen´ez", and "Miśkiewicz"
as "Miskiewicz´", the accent wherever the page happens to draw it."""
_SPACING_ACCENT = "[" + re.escape("".join(c for c in _ACCENT_MARKS if not c.isascii())) + "]"
_ACCENT_BY_LETTER = re.compile(
    rf"[^\W\d_]\s?{_SPACING_ACCENT}|{_SPACING_ACCENT}\s?[^\W\d_]|[^\W\d_][`^~][^\W\d_]|\s[\u0300-\u036f]\s?[^\W\d_]"
)
"""An accent glyph beside a letter in a page's text: only then are the page's glyph positions looked at. A grave,
caret or tilde of ASCII counts only inside a word (code and TeX sources have them beside words), and a combining
mark only after a space (after a letter it is where it belongs)."""
_BELOW = frozenset({202, 220})
"""Canonical combining classes of marks set under a letter (cedilla, ogonek, dot below); the others go over it."""
_ANY_ACCENT = re.compile(rf"{_SPACING_ACCENT}|[`^~\u0300-\u036f]")
"""What a page must have for ``_ACCENT_BY_LETTER`` to be worth a search (most pages have none of these)."""
_ADOBE_SMALL = [0xF721, 0xF724, 0xF726, *range(0xF730, 0xF73A), 0xF73F, *range(0xF760, 0xF77B), 0xF7A1, 0xF7A2]
_ADOBE_SMALL += [0xF7A8, 0xF7AF, 0xF7B4, 0xF7B8, 0xF7BF, *(c for c in range(0xF7E0, 0xF800) if c != 0xF7F7)]
_ADOBE_RUNS = {
    0xF6BE: "ȷ",
    0xF6C4: "гбдпт",
    0xF6D9: "©®™1",
    0xF6DF: "¢¢,,$$--..abdeilmorst",
    0xF6F4: "˘ˇˆ˙˝łœ˛˚š˜ž",
    0xF8E6: "⏐⎯®©™⎛⎜⎝⎡⎢⎣⎧⎨⎩⎪⎮⎞⎟⎠⎤⎥⎦⎫⎬⎭",
}
_ADOBE_CORPORATE_USE = {code: chr(code - 0xF700) for code in _ADOBE_SMALL} | {
    first + i: char for first, chars in _ADOBE_RUNS.items() for i, char in enumerate(chars)
}
"""Adobe's private-use code points (its Glyph List's "corporate use" assignments) for glyphs of expert and symbol
fonts, where the font names its glyphs rather than mapping them to Unicode: small capitals and old-style figures
(U+F761 "Asmall" is an a), superior and inferior letters, Serbian italic Cyrillic, the pieces of large brackets.
PDFium and pdftotext both pass them on, so "Next" set in small capitals was indexed as four unknown characters."""
_ADOBE_GLYPH = re.compile("[\uf6be-\uf8fe]")
_DOTLESS = {"\u0131": "i", "\u0237": "j"}
"""Accented i and j are set on dotless letters."""


def extract_pdf(source: str, data: bytes, builder: TextBuilder) -> list[SkippedFile]:
    """Pages in physical order, running headers and footers left out; a page without text is left out and returned
    as ``file#page=N`` to report. PDFium is not thread-safe: call this from one thread at a time (indexing does)."""
    import pypdfium2 as pdfium

    document = _open_pdf(data)
    try:
        edges = [_page_edges(document, index) for index in range(len(document))]
        furniture = running_lines(edges)
        outline = read_outline(document)
        blank, with_images = [], 0
        for index, page_edges in enumerate(edges):
            if builder.full:
                break
            text = _page_text(document, index, page_edges, furniture)
            label = document.get_page_label(index) or None
            if builder.page(index + 1, text, label):
                _mark_sections(builder, outline.get(index, []))
            elif not builder.full:
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


def _mark_sections(builder: TextBuilder, entries: list[OutlineEntry]) -> None:
    """Sections for the outline's entries that point to the page just added, where the page shows their headings."""
    page_start, page_text = builder.pages[-1].start, builder.last_block
    for entry, offset in zip(entries, heading_offsets(page_text, entries), strict=True):
        if offset is not None:
            builder.heading_at(entry.level + 1, entry.title, page_start + offset)


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
    breaks: _WordBreaks | None = None
    """The page's word breaks, kept so that the page read again without its running lines is not measured again."""

    @property
    def keys(self) -> list[str]:
        return [_furniture_key(edge[0]) for edge in (self.top, self.bottom) if edge is not None]


_MARGIN = 0.5


def _page_edges(document, index: int) -> PageEdges:
    page = _page_with_annotations_drawn(document, index)
    textpage = page.get_textpage()
    try:
        box = tuple(page.get_bbox())
        breaks = _WordBreaks.read(textpage)
        reader = _PageText(textpage, breaks)
        text = reader.within(box)
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
        if not rects:
            return PageEdges(box, text, None, None, breaks)
        top_line = _same_line(rects, max(rects, key=lambda r: r[3]))
        bottom_line = _same_line(rects, min(rects, key=lambda r: r[1]))
        highest, top_floor = max(r[3] for r in top_line), min(r[1] for r in top_line)
        lowest, bottom_ceiling = min(r[1] for r in bottom_line), max(r[3] for r in bottom_line)
        left, right = box[0], box[2]
        top = reader.within((left, top_floor - _MARGIN, right, highest + _MARGIN))
        bottom = reader.within((left, lowest - _MARGIN, right, bottom_ceiling + _MARGIN))
        return PageEdges(box, text, (top, top_floor), (bottom, bottom_ceiling), breaks)
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
        return _PageText(textpage, edges.breaks).within((left, bottom, right, top))
    finally:
        textpage.close()
        page.close()


Rect = tuple[float, float, float, float]
"""left, bottom, right, top, in PDF points."""


class _PageText:
    """One page's PDFium text, read within rectangles. An accent that the page draws as a glyph of its own over
    (or under) a letter is joined to that letter and composed: PDFium reads "Jiménez" so set as "Jimen´ez", and
    "Miśkiewicz" as "Miskiewicz´", wherever the page draws the accent (pdftotext composes them too). Words PDFium
    ran together are set apart at ``breaks``, measured once per page. Glyphs' ink boxes are read once, and only for
    a page whose text has an accent beside a letter."""

    def __init__(self, textpage, breaks: _WordBreaks | None) -> None:
        self.textpage = textpage
        self.breaks = breaks
        self._glyphs: _Glyphs | None = None

    def within(self, rect: Rect) -> str:
        """The text within ``rect``, accents on their letters, words PDFium ran together apart, PDFium's own
        conventions undone."""
        text = self.textpage.get_text_bounded(*rect)
        breaks = self.breaks
        if _ANY_ACCENT.search(text) and _ACCENT_BY_LETTER.search(text):
            self._glyphs = self._glyphs or _Glyphs.read(self.textpage)
            accented = self._glyphs.text_within(rect, breaks.starts if breaks else frozenset())
            if accented is not None:
                return clean_page_text(accented)
        return clean_page_text(breaks.inserted(text, rect) if breaks else text)


_SPACING = frozenset(" \r\n")


@dataclass(frozen=True)
class _Glyphs:
    """A text page's characters in PDFium's order and their boxes (left, bottom, right, top; zeros where PDFium has
    none), with which of them are spacing, accents and letters. Spaces and line breaks, most of which PDFium infers
    from gaps, go with the character before them."""

    chars: str
    boxes: np.ndarray
    spacing: np.ndarray
    accent: np.ndarray
    letter: np.ndarray

    @classmethod
    def read(cls, textpage) -> _Glyphs:
        import ctypes

        import pypdfium2.raw as pdfium_c

        count = textpage.count_chars()
        chars = textpage.get_text_range(0, count)
        if len(chars) != count:  # characters past U+FFFF come as two UTF-16 units: read them one by one
            chars = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(count))
        boxes = np.zeros((count, 4), dtype=np.float64)
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        for i, char in enumerate(chars):
            if char not in _SPACING and pdfium_c.FPDFText_GetCharBox(textpage.raw, i, left, right, bottom, top):
                boxes[i] = left.value, bottom.value, right.value, top.value
        spacing = np.array([c in _SPACING for c in chars], dtype=bool)
        accent = np.array([c in _ACCENT_MARKS or "\u0300" <= c <= "\u036f" for c in chars], dtype=bool)
        letter = np.array([c.isalpha() for c in chars], dtype=bool) & ~accent & (boxes[:, 3] > boxes[:, 1])
        return cls(chars, boxes, spacing, accent, letter)

    def text_within(self, rect: Rect, word_starts: frozenset[int]) -> str | None:
        """The text within ``rect`` character by character, each accent glyph that sits on a letter made a
        combining mark of it and composed (NFC), and a space before each of ``word_starts``; None when no accent
        sits on a letter. A glyph sits on the letter whose ink spans its middle across, and whose top quarter
        it is above by less than the letter's height (or, for a cedilla or an ogonek, whose bottom quarter it is
        below): a tilde or caret set beside letters, as in code, or at the top of the line under them, is not an
        accent."""
        chars = self.chars
        left, bottom, right, top = self.boxes.T
        middle_x, middle_y, height = (left + right) / 2, (bottom + top) / 2, top - bottom
        inside = (middle_x >= rect[0]) & (middle_x <= rect[2]) & (middle_y >= rect[1]) & (middle_y <= rect[3])
        owner = np.maximum.accumulate(np.where(self.spacing, -1, np.arange(len(chars))))
        kept = np.where(owner >= 0, inside[np.maximum(owner, 0)], False)
        accent, letter = self.accent & kept, self.letter & kept
        marks: dict[int, list[int]] = {}
        for i in np.flatnonzero(accent):
            x, y = middle_x[i], middle_y[i]
            if unicodedata.combining(_ACCENT_MARKS.get(chars[i], chars[i])) in _BELOW:
                placed_well = (y <= bottom + height / 4) & (y >= bottom - height)
            else:
                placed_well = (y >= top - height / 4) & (y <= top + height)
            candidates = np.flatnonzero(letter & (left <= x) & (right >= x) & placed_well)
            if len(candidates):
                base = int(candidates[np.argmin(np.abs(middle_x[candidates] - x))])
                if _takes_accent(chars[base], _ACCENT_MARKS.get(chars[i], chars[i])):
                    marks.setdefault(base, []).append(int(i))
        if not marks:
            return None
        spaced = word_starts.intersection(np.flatnonzero(kept).tolist())
        placed = {i for glyphs in marks.values() for i in glyphs}
        parts = []
        for i, char in enumerate(chars):
            if not kept[i] or i in placed or self._space_for_accent(i, placed):
                continue
            if i in spaced:
                parts.append(" ")
            if i in marks:
                combining = "".join(_ACCENT_MARKS.get(chars[a], chars[a]) for a in sorted(marks[i]))
                char = unicodedata.normalize("NFC", _DOTLESS.get(char, char) + combining)
            parts.append(char)
        return "".join(parts)

    def _space_for_accent(self, index: int, placed: set[int]) -> bool:
        """Whether ``index`` is a space beside an accent glyph that PDFium took for a word of its own, between two
        letters that touch once the accent is on its letter ("stosowan ˛a" is "stosowaną")."""
        chars, boxes = self.chars, self.boxes
        if chars[index] != " " or not {index - 1, index + 1} & placed:
            return False

        def gone(i: int) -> bool:
            return i in placed or chars[i] == " "

        before = next((i for i in range(index - 1, -1, -1) if not gone(i)), None)
        after = next((i for i in range(index + 1, len(chars)) if not gone(i)), None)
        if before is None or after is None or not (chars[before].isalpha() and chars[after].isalpha()):
            return False
        height = max(boxes[before][3] - boxes[before][1], boxes[after][3] - boxes[after][1])
        return abs(boxes[after][0] - boxes[before][2]) < 0.15 * height


WORD_GAP = 0.1
"""A gap between two glyphs on a line that is at least this share of their height, and at least half the page's
usual gap at the spaces PDFium did see, separates words (pdftotext breaks words at 0.1 of the font size)."""
_WHITE_SPACE = np.array([code for code in range(0x3001) if chr(code).isspace()], dtype="<u4")
_UNSPACED_SCRIPTS = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x2E80, 0x9FFF), (0xF900, 0xFAFF))
"""Thai and Lao, Myanmar, Khmer, and Chinese and Japanese (ideographs, kana, their punctuation): scripts written
without spaces between words, whose justified lines stretch the gaps between letters."""
_ENDS_WORD = frozenset(".,;:!?)]\u201d\u2019")
_STARTS_WORD = frozenset("([\u201c\u2018")


@dataclass(frozen=True)
class _WordBreaks:
    """Where PDFium ran two words of a page together, with no space between: the indices of the characters that
    begin the second word, in PDFium's character stream.

    PDFium infers spaces at the gaps between a page's text strings, not at gaps inside one: PDFs made from groff's
    PostScript (manual pages) set the space between two words as character spacing on a string such as "yr", and
    PDFium reads "anyremaining", "theyare" (about 2% of the words of a man page). Here each pair of characters that
    PDFium put side by side is measured from their advance boxes; a gap as wide as a word space (``WORD_GAP``,
    scaled to the page's own spaces so that fonts whose boxes are loose do not split words) between letters or
    digits, or after closing punctuation, starts a word. A run of single letters each set apart (a letter-spaced
    "a b s t r a c t", a glyph table) stays as it is, a decimal point never opens a gap, and neither does a
    justified line of a script written without spaces (Chinese, Japanese, Thai).

    The same gap counts where PDFium's character stream has a break between two characters that its text of the
    page runs together: on a page of a few short strings (a slide's table) PDFium's stream breaks the line after
    each string, and its text of the page then lays the strings that share a line side by side without the break
    ("12 308" for cells 12, 30 and 8). On a page with too few spaces to measure its word space by, only such
    breaks are looked at, at ``WORD_GAP``."""

    chars: str
    middles: np.ndarray
    """Each character's box middle (x, y); NaN where it has no box."""
    starts: frozenset[int]

    @classmethod
    def read(cls, textpage) -> _WordBreaks | None:
        """The page's word breaks, or None when PDFium missed none (or the page cannot be measured)."""
        import pypdfium2.raw as pdfium_c

        count = textpage.count_chars()
        chars = textpage.get_text_range(0, count)
        if len(chars) != count:  # characters past U+FFFF: indices and characters do not line up; leave the page be
            return None
        codes = np.frombuffer(chars.encode("utf-32-le"), dtype="<u4")
        drawn = np.flatnonzero(~np.isin(codes, _WHITE_SPACE)).tolist()
        if len(drawn) < 3:
            return None
        rect, raw, loose_box = pdfium_c.FS_RECTF(), textpage.raw, pdfium_c.FPDFText_GetLooseCharBox
        none = (0.0, 0.0, 0.0, 0.0)
        boxes = np.array(
            [(rect.left, rect.bottom, rect.right, rect.top) if loose_box(raw, i, rect) else none for i in drawn]
        )
        starts = _unspaced_starts(chars, codes, boxes, np.array(drawn, dtype=np.int64))
        if not starts:
            return None
        left, bottom, right, top = boxes.T
        middles = np.full((count, 2), np.nan, dtype=np.float32)
        middles[drawn] = np.where(
            (top > bottom)[:, None], np.column_stack(((left + right) / 2, (bottom + top) / 2)), np.nan
        )
        return cls(chars, middles, starts)

    def inserted(self, text: str, rect: Rect) -> str:
        """``text``, PDFium's text within ``rect``, with a space before each word start in it. That text and the
        character stream differ in white space only (PDFium lays out its bounded text anew), so they are matched
        character by character; where they do not match, ``text`` is returned as PDFium read it."""
        x, y = self.middles.T
        with np.errstate(invalid="ignore"):
            inside = (x >= rect[0]) & (x <= rect[2]) & (y >= rect[1]) & (y <= rect[3])
        parts, at = [], 0
        for i in np.flatnonzero(inside):
            char = self.chars[i]
            if char.isspace():
                continue
            while at < len(text) and text[at].isspace():
                parts.append(text[at])
                at += 1
            if at == len(text) or not _same_glyph(text[at], char):
                return text
            if i in self.starts and parts and not parts[-1].isspace():
                parts.append(" ")
            parts.append(text[at])
            at += 1
        return "".join(parts) + text[at:]


def _same_glyph(bounded: str, streamed: str) -> bool:
    """PDFium marks a hyphenation break U+0002 in bounded text and U+FFFE in its character stream."""
    return bounded == streamed or (bounded in "\x02\ufffe" and streamed in "\x02\ufffe")


def _unspaced_starts(chars: str, codes: np.ndarray, boxes: np.ndarray, drawn: np.ndarray) -> frozenset[int]:
    """``_WordBreaks.starts``, from the advance boxes (left, bottom, right, top) of the characters at ``drawn``
    (``codes``: the characters' code points)."""
    before, after = drawn[:-1], drawn[1:]
    left, bottom, right, top = boxes[:-1].T
    next_left, next_bottom, next_right, next_top = boxes[1:].T
    height = np.minimum(top - bottom, next_top - next_bottom)
    measured = (right - left > 0.05 * (top - bottom)) & (next_right - next_left > 0.05 * (next_top - next_bottom))
    same_line = measured & (height > 0) & (np.minimum(top, next_top) - np.maximum(bottom, next_bottom) > height / 2)
    gap = (next_left - right) / np.where(height > 0, height, 1.0)
    spaced = (after - before == 2) & (codes[np.minimum(before + 1, len(codes) - 1)] == ord(" "))
    word_gaps = gap[same_line & spaced]
    adjacent = after - before == 1
    if len(word_gaps) >= 5:
        threshold = max(WORD_GAP, 0.5 * float(np.median(word_gaps)))
    elif adjacent.all():
        return frozenset()
    else:  # too few spaces to measure a word space by: only the breaks PDFium saw itself are looked at
        threshold, same_line = WORD_GAP, same_line & ~adjacent
    candidates = np.flatnonzero(same_line & ~spaced & (gap > threshold))
    starts = set()
    for i in candidates.tolist():
        first, second = chars[before[i]], chars[after[i]]
        if (first.isalnum() or first in _ENDS_WORD) and (second.isalnum() or second in _STARTS_WORD):
            if not (first in ".,:" and second.isdigit()) and not (_unspaced(first) or _unspaced(second)):
                starts.add(int(after[i]))
    return frozenset(i for i in starts if i - 1 not in starts and i + 1 not in starts)


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(first <= code <= last for first, last in _UNSPACED_SCRIPTS)


def _takes_accent(letter: str, mark: str) -> bool:
    """A plain letter takes any accent (x̄ stays a letter and a mark); an accented one only one that makes a letter
    of some script with it (ê and ´ are ế): a glyph table or a page about typing accents sets them side by side."""
    return len(unicodedata.normalize("NFD", letter)) == 1 or len(unicodedata.normalize("NFC", letter + mark)) == 1


def clean_page_text(text: str) -> str:
    """PDFium's page text with its own conventions undone: CRLF line ends, hyphenation marks between the halves
    of a joined word, TeX ligatures without a Unicode map, Adobe's private-use glyphs. Other control characters
    (undecodable glyphs) and Unicode ligatures are left to ``TextBuilder``."""
    text = _HYPHENATION.sub("", text.replace("\r\n", "\n"))
    if _ADOBE_GLYPH.search(text):
        text = text.translate(_ADOBE_CORPORATE_USE)
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
