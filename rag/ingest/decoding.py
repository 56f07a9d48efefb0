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

    UTF-16 and UTF-32 (by their byte order mark, or by where their NULs fall) come first: any other file holding
    NUL bytes is binary. Then UTF-8 (with or without BOM), unless its bytes are 7-bit ISO-2022 Japanese or Korean.
    Bytes that are mostly UTF-8 but contain invalid sequences are a damaged UTF-8 file, not a legacy encoding:
    they are refused rather than turned into mojibake. A file that declares its encoding (an XML declaration) and
    decodes with it is taken at its word. Anything else is decoded as chardet's best guess, trusted as it stands:
    on real legacy files it beats any tie-breaking of ours (see the README's decoding figures). chardet refuses
    binary data.
    """
    if not data:
        raise UndecodableFileError("empty file (0 bytes)")
    if wide := _wide_unicode(data):
        return wide
    if b"\x00" in data[:8192]:
        raise UndecodableFileError("binary file (contains NUL bytes)")
    encoding = "utf-8-sig" if data.startswith(_UTF8_BOM) else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if _mostly_utf8(data):
            raise UndecodableFileError(
                f"invalid UTF-8 at byte {exc.start} ({data[exc.start : exc.start + 1]!r}) in a file that is "
                "otherwise UTF-8; fix or re-save the file as UTF-8"
            ) from None
    else:
        return _iso_2022(data) or (text, encoding)
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


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip
"""UTF-32's little-endian mark starts with UTF-16's, so it is tested first. The ``utf-16``/``utf-32`` codecs read
the mark and leave it out of the text, as ``utf-8-sig`` does."""


def _wide_unicode(data: bytes) -> tuple[str, str] | None:
    """UTF-16 or UTF-32 text (what Windows tools call "Unicode"): by its byte order mark, or, when the bytes hold
    NULs and no mark, by chardet's reading of where the NULs fall. None for anything else, binary data included:
    text whose decoding holds control characters is not taken for text."""
    marked = next((name for bom, name in _WIDE_BOMS if data.startswith(bom)), None)
    encoding = marked
    if encoding is None and b"\x00" in data[:8192]:
        detected = chardet.detect(data, compat_names=False)["encoding"] or ""
        encoding = detected if detected.startswith(("utf-16", "utf-32")) else None
    if encoding is None:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if marked:
            raise UndecodableFileError(
                f"marked as {encoding.upper()} but byte {exc.start} is not valid {encoding.upper()}: {exc.reason}"
            ) from None
        return None
    return None if _NOT_IN_TEXT.search(text) else (text, encoding)


_NOT_IN_TEXT = re.compile("[\x00-\x08\x0e-\x1f]")
"""C0 controls that text files do not hold: binary data read as UTF-16 is full of them. Tab, line ends, vertical
tab and form feed (page breaks) do occur; ``rag.textforms`` still folds those it does not keep for search."""
_ISO_2022_ESCAPE = re.compile(rb"\x1b(?:\$[@AB]|\$\(D|\$\)C|\(J|\(I)")
"""The escape sequences that switch ISO-2022-JP and ISO-2022-KR into their double-byte sets: 7-bit text that is
valid UTF-8 (and ASCII) byte for byte, but reads as escape codes and Latin letters unless decoded as ISO-2022."""


def _iso_2022(data: bytes) -> tuple[str, str] | None:
    """Japanese or Korean mail and news text in ISO-2022 (decoded with the variant chardet names), or None."""
    if not _ISO_2022_ESCAPE.search(data):
        return None
    encoding = chardet.detect(data, compat_names=False)["encoding"] or ""
    if not encoding.startswith("iso2022"):
        return None
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        return None


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


_BROWSER_CODECS = {
    "windows-1252": ("iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii",
                     "cp819", "ibm819", "iso-ir-100", "csisolatin1", "x-cp1252", "windows-1252"),
    "windows-1254": ("iso-8859-9", "iso8859-9", "iso_8859-9", "latin5", "l5", "iso-ir-148", "csisolatin5"),
    "cp874": ("tis-620", "iso-8859-11", "iso8859-11", "iso_8859-11", "windows-874", "dos-874"),
    "gb18030": ("gb2312", "gbk", "x-gbk", "chinese", "csgb2312", "iso-ir-58", "gb_2312", "gb_2312-80"),
    "cp949": ("euc-kr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "korean", "iso-ir-149",
              "windows-949", "cseuckr", "csksc56011987"),
    "cp932": ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms932", "ms_kanji", "windows-31j", "csshiftjis"),
    "big5hkscs": ("big5", "big5-hkscs", "cn-big5", "x-x-big5", "csbig5"),
    "utf-8": ("utf-16", "utf-16le", "utf-16be", "unicode", "ucs-2"),
}  # fmt: skip
_BROWSER_CODEC = {label: codec for codec, labels in _BROWSER_CODECS.items() for label in labels}


def browser_codec(label: str) -> str:
    """The codec a browser decodes a page with when the page declares ``label`` (the WHATWG Encoding Standard):
    Latin-1 is read as windows-1252, GB2312 as GB18030, EUC-KR as windows-949, Shift_JIS as windows-31J, and so
    on for the labels whose Python codec is the strict standard real pages overstep (curly quotes in a "Latin-1"
    page); a ``<meta>`` naming UTF-16 in an ASCII-compatible page means UTF-8 (HTML's parsing rules)."""
    label = label.strip().lower()
    return _BROWSER_CODEC.get(label, label)


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
