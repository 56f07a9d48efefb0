"""A PDF's outline (its bookmarks) as the sections of its text: each entry names a section and the page it starts
on, and the page's text holds its heading, so passages are cited under "Paper > 4. A third algorithm" and embedded
with that path as they are for web pages and Word files. Papers from LaTeX (hyperref), publishers and word
processors have outlines; a PDF without one has no sections, as before.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_OUTLINE_ENTRIES = 10_000
"""Entries read from one outline: a generated outline of every figure of a huge manual need not all be read."""
MAX_OUTLINE_DEPTH = 8


@dataclass(frozen=True)
class OutlineEntry:
    """One bookmark: its depth (0 for the outermost) and its title, as the outline spells it."""

    level: int
    title: str


def read_outline(document) -> dict[int, list[OutlineEntry]]:
    """The outline's entries that point to a page of ``document`` (a pypdfium2 ``PdfDocument``), by 0-based page
    index, in outline order. Entries that point nowhere (links to the web, named actions) are left out; a damaged
    outline gives what was read before the damage."""
    by_page: dict[int, list[OutlineEntry]] = {}
    try:
        for count, bookmark in enumerate(document.get_toc(max_depth=MAX_OUTLINE_DEPTH)):
            if count == MAX_OUTLINE_ENTRIES:
                break
            destination = bookmark.get_dest()
            index = destination.get_index() if destination is not None else None
            title = _repaired(" ".join(bookmark.get_title().split()))
            if index is not None and 0 <= index < len(document) and title:
                by_page.setdefault(index, []).append(OutlineEntry(bookmark.level, title))
    except Exception as exc:  # pypdfium2 raises its own errors and ctypes' on a broken outline: keep what was read
        logger.warning("the PDF's outline could not be read to its end (%s: %s)", type(exc).__name__, exc)
    return by_page


_PDFDOC_HIGH = "\u2022\u2020\u2021\u2026\u2014\u2013\u0192\u2044\u2039\u203a\u2212\u2030\u201e\u201c\u201d\u2018"
_PDFDOC_HIGH += "\u2019\u201a\u2122\ufb01\ufb02\u0141\u0152\u0160\u0178\u017d\u0131\u0142\u0153\u0161\u017e"
_PDFDOC_BYTES = {char: 0x80 + i for i, char in enumerate(_PDFDOC_HIGH)} | {"\u20ac": 0xA0}
"""PDFDocEncoding's characters for bytes 0x80-0x9E and 0xA0 (the rest of its upper half is Latin-1's)."""


def _repaired(title: str) -> str:
    """A title written as UTF-8 bytes in a PDFDocEncoding string (LaTeX's hyperref without its unicode option
    does) reads as "Ð Ñ•ÐµÐ³Ð»ÐµÐ´": such a title is decoded as the UTF-8 it is. A real Latin-1 title ("Café")
    is not valid UTF-8 and stays."""
    if title.isascii():
        return title
    try:
        raw = bytes(_PDFDOC_BYTES.get(char, ord(char)) for char in title)
        return raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # a character PDFDocEncoding has no byte for: a real Unicode title
        return title


_NUMBERING = re.compile(r"[\W\d_]*(?:[A-Za-z]|[IVXLC]+|chapter|section|part|appendix)?[\W\d_]*", re.IGNORECASE)
"""What may stand before a heading on its line: "4.2.", "A.", "IV -", "Chapter 3:"."""


def heading_offsets(page_text: str, entries: list[OutlineEntry]) -> list[int | None]:
    """Where each entry's heading begins in the page's text (the start of its line, so a number set before the title
    is in its section), searched in order from the previous heading found; None for a title the page does not show
    (a bookmark named otherwise than its heading). The first occurrence that opens its line (after numbering at
    most) is taken, else the first: "Introduction" is named in an abstract before the heading. Compared without
    case, spacing or accents: outlines often drop the accents the page shows ("Wstep" for "Wstęp") and the spaces
    PDFium infers."""
    folded, origin = _folded_with_origin(page_text)
    offsets: list[int | None] = []
    position = 0
    for entry in entries:
        title = _folded_with_origin(entry.title)[0]
        matches = _occurrences(folded, title, position) if title else []
        if not matches:
            offsets.append(None)
            continue
        line_starts = [page_text.rfind("\n", 0, origin[found]) + 1 for found in matches]
        opening = [
            i for i, found in enumerate(matches) if _NUMBERING.fullmatch(page_text[line_starts[i] : origin[found]])
        ]
        chosen = opening[0] if opening else 0
        position = matches[chosen] + len(title)
        offsets.append(line_starts[chosen])
    return offsets


def _occurrences(text: str, part: str, start: int, limit: int = 20) -> list[int]:
    found, at = [], text.find(part, start)
    while at >= 0 and len(found) < limit:
        found.append(at)
        at = text.find(part, at + 1)
    return found


def _folded_with_origin(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased, without white space or accents (NFKD, combining marks dropped), and for each of its
    characters the position in ``text`` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for position, char in enumerate(text):
        if char.isspace():
            continue
        for part in unicodedata.normalize("NFKD", char).lower():
            if not unicodedata.combining(part):
                chars.append(part)
                origin.append(position)
    return "".join(chars), origin
