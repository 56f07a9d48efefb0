"""Loading: turn folders of text files and BEIR ``corpus.jsonl`` files into ``Document`` objects.

Text is decoded exactly once, with the encoding recorded on the document, and never rewritten: every offset
computed later (chunks, citations) indexes into ``Document.text`` as decoded here, with no newline translation.
Files that cannot be read as text are reported as ``SkippedFile`` and never abort a run.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import charset_normalizer

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
EXTRACTED_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".docx"})
INDEXED_SUFFIXES = TEXT_SUFFIXES | EXTRACTED_SUFFIXES
"""File endings read from folders. A ``.jsonl`` file named on its own is read as a BEIR corpus."""

_DATE_HEADER = re.compile(r"\A\ufeff?[ \t]*date[ \t]+(\d{4}-\d{2}-\d{2})\b[ \t]*(?:\r?\n)?")
_UTF8_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class Page:
    """One physical page of an extracted document: ``text[start:end]`` is its text (1-based ``number``)."""

    start: int
    end: int
    number: int
    label: str | None = None
    """The page label the PDF defines (for example ``iv``), if any."""
    line: int = 1
    """The 1-based line of the document's text the page starts on (PDF citations count lines from there)."""


@dataclass(frozen=True)
class Section:
    """A stretch of text under one heading path (for example ``Install > Linux``)."""

    start: int
    end: int
    path: str


@dataclass(frozen=True)
class Table:
    """A table, one row per line; ``text[start:header_end]`` is its header (repeated for split tables)."""

    start: int
    end: int
    header_end: int


@dataclass(frozen=True)
class Document:
    """One source of text, exactly as decoded from disk.

    ``body_start`` is where the content begins after a parsed header (such as a leading ``date YYYY-MM-DD``);
    offsets stay those of ``text``.
    """

    doc_id: str
    source: str
    """Absolute file path; for a JSONL corpus the JSONL path, ``#`` and the ``_id``."""
    text: str
    encoding: str
    sha256: str
    date: str | None = None
    title: str | None = None
    body_start: int = 0
    format: str = "text"
    """``text`` and ``markdown`` are cited in the file's own text; ``pdf``, ``html`` and ``docx`` in the text
    extracted from them (which the index stores and serves)."""
    pages: tuple[Page, ...] = ()
    sections: tuple[Section, ...] = ()
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file (or JSONL line) that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class LoadedCorpus:
    """What loading produced: the documents in a stable order, and what was skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


class UndecodableFileError(Exception):
    """Raised by ``decode_bytes`` with the reason a file is not text."""


def load_corpus(paths: Sequence[Path | str]) -> LoadedCorpus:
    """Load every text document under ``paths`` (folders, text files or BEIR ``.jsonl`` corpora).

    Document ids must be unique across all paths; a later duplicate is skipped and reported.
    """
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    seen: dict[str, str] = {}
    for item in _iter_loaded(paths):
        if isinstance(item, SkippedFile):
            logger.info("skipped %s: %s", item.source, item.reason)
            skipped.append(item)
        elif item.doc_id in seen:
            reason = f"duplicate document id {item.doc_id!r} (already read from {seen[item.doc_id]})"
            logger.info("skipped %s: %s", item.source, reason)
            skipped.append(SkippedFile(item.source, reason))
        else:
            seen[item.doc_id] = item.source
            documents.append(item)
    return LoadedCorpus(documents=documents, skipped=skipped)


def _iter_loaded(paths: Sequence[Path | str]) -> Iterator[Document | SkippedFile]:
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if not path.exists():
            yield SkippedFile(str(path), "no such file or folder")
        elif path.is_dir():
            for file in iter_text_files(path):
                yield from load_file(file)
        elif path.suffix.lower() == ".jsonl":
            yield from load_jsonl_corpus(path)
        elif path.suffix.lower() in INDEXED_SUFFIXES:
            yield from load_file(path)
        else:
            supported = ", ".join(sorted(INDEXED_SUFFIXES)) + " and BEIR .jsonl"
            yield SkippedFile(str(path), f"unsupported file type {path.suffix!r}; supported: {supported}")


def iter_text_files(root: Path) -> Iterator[Path]:
    """Text files below ``root`` in sorted order, skipping hidden files and folders (names starting with ``.``)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in INDEXED_SUFFIXES:
                yield Path(dirpath) / name


def load_file(path: Path) -> Iterator[Document | SkippedFile]:
    """One file by its kind: text and Markdown as decoded, PDF/HTML/DOCX as extracted (``rag.formats``); a PDF may
    also report pages that had no text."""
    suffix = path.suffix.lower()
    if suffix in EXTRACTED_SUFFIXES:
        from rag.formats import load_extracted

        yield from load_extracted(path)
        return
    loaded = load_text_file(path)
    if isinstance(loaded, Document) and suffix in MARKDOWN_SUFFIXES:
        from rag.formats import markdown_structure

        sections, tables = markdown_structure(loaded.text, loaded.body_start)
        loaded = replace(loaded, format="markdown", sections=sections, tables=tables)
    yield loaded


def load_text_file(path: Path) -> Document | SkippedFile:
    """Read and decode one text file; return why not when it is not text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SkippedFile(str(path), f"cannot read: {exc.strerror or exc}")
    try:
        text, encoding = decode_bytes(data)
    except UndecodableFileError as exc:
        return SkippedFile(str(path), str(exc))
    if not text.strip():
        return SkippedFile(str(path), "empty file (no text)")
    doc_date, body_start = parse_date_header(text)
    return Document(
        doc_id=file_doc_id(path),
        source=str(path),
        text=text,
        encoding=encoding,
        sha256=hashlib.sha256(data).hexdigest(),
        date=doc_date,
        body_start=body_start,
    )


def file_doc_id(path: Path) -> str:
    """A short, URL-safe id that stays the same for the same absolute path."""
    return hashlib.blake2b(str(path).encode("utf-8"), digest_size=8).hexdigest()


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


def load_jsonl_corpus(path: Path) -> Iterable[Document | SkippedFile]:
    """Read a BEIR ``corpus.jsonl``: one document per line with ``_id``, optional ``title`` and ``text``.

    The document's text is the ``text`` field verbatim (citations index into it); the title is kept apart so it
    can be embedded without changing offsets.
    """
    try:
        handle = path.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        yield SkippedFile(str(path), f"cannot read: {exc.strerror or exc}")
        return
    with handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield SkippedFile(where, f"invalid JSON: {exc.msg}")
                continue
            if not isinstance(record, dict) or not isinstance(record.get("_id"), str | int):
                yield SkippedFile(where, "line has no '_id' field")
                continue
            doc_id = str(record["_id"])
            text = record.get("text")
            title = record.get("title") or None
            if not isinstance(text, str) or not text.strip():
                yield SkippedFile(f"{path}#{doc_id}", "document has no text")
                continue
            yield Document(
                doc_id=doc_id,
                source=f"{path}#{doc_id}",
                text=text,
                encoding="utf-8",
                sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                title=title if isinstance(title, str) else None,
            )
