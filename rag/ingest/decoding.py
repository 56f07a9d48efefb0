"""Decoding: the bytes of a text file to text, with the encoding named, and the optional ``date`` header."""

from __future__ import annotations

import codecs
import re
from datetime import date

import chardet

_DATE_HEADER = re.compile(r"\A\ufeff?[ \t]*date[ \t]+(\d{4}-\d{2}-\d{2})\b[ \t]*(?:\r?\n)?")


_UTF8_BOM = codecs.BOM_UTF8


class UndecodableFileError(Exception):
    """Raised by ``decode_bytes`` with the reason a file is not text."""


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes to text and name the encoding used, or raise ``UndecodableFileError`` with the reason.

    UTF-8 (with or without BOM) is tried first. Bytes that are mostly UTF-8 but contain invalid sequences are a
    damaged UTF-8 file, not a legacy encoding: they are refused rather than turned into mojibake. A file that
    declares its encoding (an XML declaration) and decodes with it is taken at its word. Anything else is decoded
    as chardet's best guess, trusted as it stands: on real legacy files it beats any tie-breaking of ours (see
    the README's decoding figures). chardet refuses binary data.
    """
    if not data:
        raise UndecodableFileError("empty file (0 bytes)")
    if b"\x00" in data[:8192]:
        raise UndecodableFileError("binary file (contains NUL bytes)")
    encoding = "utf-8-sig" if data.startswith(_UTF8_BOM) else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        if _mostly_utf8(data):
            raise UndecodableFileError(
                f"invalid UTF-8 at byte {exc.start} ({data[exc.start : exc.start + 1]!r}) in a file that is "
                "otherwise UTF-8; fix or re-save the file as UTF-8"
            ) from None
    declared = declared_encoding(data)
    if declared is not None:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass  # the declaration is wrong: the bytes themselves decide
    guess = _detected_encoding(data, prefer_superset=False)
    try:
        return data.decode(guess), guess
    except (UnicodeDecodeError, LookupError):  # detection reads the first 200 kB; the rest may need the superset
        pass
    wider = _detected_encoding(data, prefer_superset=True)
    try:
        return data.decode(wider), wider
    except (UnicodeDecodeError, LookupError) as exc:
        raise UndecodableFileError(f"not text: detected encoding {guess} does not decode it ({exc})") from None


def _detected_encoding(data: bytes, *, prefer_superset: bool) -> str:
    """chardet's codec for ``data``. Subsets are kept as named by default: chardet's "superset" of ISO-8859-7 is
    cp1253, which reads its accented capitals as other characters."""
    detected = chardet.detect(data, prefer_superset=prefer_superset, compat_names=False)
    guess = detected["encoding"]
    if not guess or (detected["language"] is None and detected["confidence"] == _NO_MATCH_CONFIDENCE):
        raise UndecodableFileError("not text: no character encoding fits its bytes")
    return guess


_NO_MATCH_CONFIDENCE = 0.10
"""chardet's answer when no encoding fits is its ``no_match_encoding`` (cp1252), unchecked, at this confidence and
with no language; real matches can score lower, but always name a language."""
_XML_DECLARATION = re.compile(rb"""\A<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")


def declared_encoding(data: bytes) -> str | None:
    """The codec an XML declaration names at the start of ``data``, when Python knows it."""
    match = _XML_DECLARATION.match(data[:200])
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None


def _mostly_utf8(data: bytes) -> bool:
    """True when at least 80% of the non-ASCII characters are valid UTF-8: a damaged UTF-8 file, which a legacy
    encoding would only turn into mojibake."""
    decoded = data.decode("utf-8", errors="replace")
    bad = decoded.count("\ufffd")
    good = sum(1 for ch in decoded if ord(ch) > 0x7F) - bad
    return good >= 4 * bad


def parse_date_header(text: str) -> tuple[str | None, int]:
    """Parse a leading ``date YYYY-MM-DD`` header; return the ISO date (or None) and where the body starts."""
    match = _DATE_HEADER.match(text)
    if match is None:
        return None, 0
    try:
        parsed = date.fromisoformat(match.group(1))
    except ValueError:
        return None, 0
    body_start = match.end()
    while body_start < len(text) and text[body_start].isspace():
        body_start += 1
    return parsed.isoformat(), body_start
