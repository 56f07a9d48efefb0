"""Text forms: what search compares beside what is shown.

A file's text is shown and cited as it is, but a ligature (U+FB01 "ﬁ"), a no-break space, a full-width letter or a
soft hyphen must not stop "file" from matching: the embedding model reads them as unknown pieces and BM25 as other
words. Search therefore compares the *searchable* form, Unicode NFKC with invisible characters removed and control
characters made spaces. Text that rag extracts itself (PDF, HTML, DOCX) is stored in that form to begin with.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

_INVISIBLE = "\u00ad\u200b\u2060\ufeff"
"""Soft hyphen, zero-width space, word joiner, zero-width no-break space: nothing to read, only to break words."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""C0 and C1 control characters other than tab, line feed and carriage return."""
_DROP = str.maketrans(dict.fromkeys(_INVISIBLE, ""))


def searchable(text: str) -> str:
    """NFKC, invisible characters removed, control characters as spaces (lengths may change)."""
    if text.isascii() and not _CONTROL.search(text):
        return text
    return unicodedata.normalize("NFKC", _CONTROL.sub(" ", text).translate(_DROP))


def searchable_with_offsets(text: str) -> tuple[str, list[int]]:
    """The searchable form of ``text`` character by character, and where each position of ``text`` (and its end)
    lands in it: a span ``text[a:b]`` is ``folded[offsets[a]:offsets[b]]``."""
    if text.isascii() and not _CONTROL.search(text):
        return text, list(range(len(text) + 1))
    parts: list[str] = []
    offsets: list[int] = []
    length = 0
    for char in text:
        offsets.append(length)
        folded = searchable(char)
        parts.append(folded)
        length += len(folded)
    offsets.append(length)
    return "".join(parts), offsets


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_breaks(text: str) -> list[int]:
    """Where each line break of ``text`` ends (its last character): CRLF, a lone CR (old Mac files) and LF each
    end one line, so a file with CR-only line ends is not cited as one long line."""
    return [match.end() - 1 for match in _LINE_BREAK.finditer(text)]


def line_number(breaks: list[int], offset: int) -> int:
    """The 1-based line holding ``offset``, given ``line_breaks`` of the text."""
    return bisect_right(breaks, offset - 1) + 1
