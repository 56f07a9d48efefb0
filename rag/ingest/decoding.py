"""Decoding: the bytes of a text file to text, with the encoding named, and the optional ``date`` header."""

from __future__ import annotations

import codecs
import re
from datetime import date

import charset_normalizer

_DATE_HEADER = re.compile(r"\A\ufeff?[ \t]*date[ \t]+(\d{4}-\d{2}-\d{2})\b[ \t]*(?:\r?\n)?")


_UTF8_BOM = codecs.BOM_UTF8


class UndecodableFileError(Exception):
    """Raised by ``decode_bytes`` with the reason a file is not text."""


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes to text and name the encoding used, or raise ``UndecodableFileError`` with the reason.

    UTF-8 (with or without BOM) is tried first. Bytes that are mostly UTF-8 but contain invalid sequences are a
    damaged UTF-8 file, not a legacy encoding: they are refused rather than turned into mojibake. Anything else is
    handed to charset-normalizer, which refuses binary data.
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
    match = _likely_encoding(charset_normalizer.from_bytes(data))
    if match is None:
        raise UndecodableFileError("not text: no character encoding fits its bytes")
    try:
        return data.decode(match.encoding), match.encoding
    except (UnicodeDecodeError, LookupError) as exc:  # detector and codec disagree: refuse, do not guess further
        raise UndecodableFileError(f"not text: detected encoding {match.encoding} does not decode it ({exc})") from None


COMMON_LEGACY_ENCODINGS = (
    "cp1252",
    "iso8859_15",
    "cp1251",
    "cp1250",
    "gb18030",
    "big5",
    "shift_jis",
    "euc_kr",
    "koi8_r",
)
"""Legacy encodings most text files are in, in order of preference among near-equal detector candidates."""


_NEAR_EQUAL_CHAOS = 0.05


def _likely_encoding(matches: charset_normalizer.CharsetMatches) -> charset_normalizer.CharsetMatch | None:
    """The detector's best match, except that a common encoding scoring nearly as well wins over a rare one
    (on short Western text charset-normalizer can rank cp775 above cp1252, which turns é into ķ)."""
    best = matches.best()
    if best is None or best.encoding is None:
        return None
    if best.encoding in COMMON_LEGACY_ENCODINGS:
        return best
    near = {m.encoding: m for m in matches if m.chaos <= best.chaos + _NEAR_EQUAL_CHAOS}
    return next((near[name] for name in COMMON_LEGACY_ENCODINGS if name in near), best)


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
