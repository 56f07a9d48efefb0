"""Loading: turn folders of text files and BEIR ``corpus.jsonl`` files into ``Document`` objects.

Text is decoded exactly once, with the encoding recorded on the document, and never rewritten: every offset
computed later (chunks, citations) indexes into ``Document.text`` as decoded here, with no newline translation.
Files that cannot be read as text are reported as ``SkippedFile`` and never abort a run; what may be read at all
is ``rag.ingest.reading``'s call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.ingest.decoding import UndecodableFileError, decode_bytes, parse_date_header
from rag.ingest.formats.markdown import markdown_document
from rag.ingest.reading import (
    LoadLimits,
    display_path,
    failure_report,
    file_doc_id,
    open_regular_file,
    os_reason,
    read_regular_file,
)
from rag.ingest.worker import extract_within_limit
from rag.types import (
    EXTRACTED_SUFFIXES,
    INDEXED_SUFFIXES,
    MARKDOWN_SUFFIXES,
    Document,
    KnownFile,
    SkippedFile,
    UnchangedFile,
)

Loaded = Document | SkippedFile | UnchangedFile
"""What loading yields for a file: its document, a report of why not, or word that the index has it already."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedCorpus:
    """What loading produced: the documents in a stable order, and what was skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    unchanged: list[UnchangedFile] = field(default_factory=list)
    """Files the index already holds as they are (only with ``known`` hashes): not decoded, not extracted."""


def load_corpus(
    paths: Sequence[Path | str], limits: LoadLimits | None = None, known: Mapping[str, KnownFile] | None = None
) -> LoadedCorpus:
    """Load every document under ``paths`` (folders, files or BEIR ``.jsonl`` corpora), within ``limits``, into
    memory (``stream_corpus`` yields them one at a time instead)."""
    corpus = LoadedCorpus()
    for item in stream_corpus(paths, limits, known):
        if isinstance(item, UnchangedFile):
            corpus.unchanged.append(item)
        elif isinstance(item, SkippedFile):
            corpus.skipped.append(item)
        else:
            corpus.documents.append(item)
    return corpus


def stream_corpus(
    paths: Sequence[Path | str], limits: LoadLimits | None = None, known: Mapping[str, KnownFile] | None = None
) -> Iterator[Loaded]:
    """Every document under ``paths``, in a stable order, as it is read.

    A file ``known`` (an index's document id -> what it knows of its file) holds with the same size and
    modification time is not read at all; one with another size or time is hashed, and only decoded or extracted
    if its bytes changed. Both are yielded as ``UnchangedFile``. Document ids must be unique across all paths; a
    later duplicate is skipped and reported.
    """
    seen: dict[str, str] = {}
    for item in _iter_loaded(paths, limits or LoadLimits(), known or {}):
        if isinstance(item, SkippedFile):
            logger.info("skipped %s: %s", item.source, item.reason)
            yield item
        elif item.doc_id in seen:
            if isinstance(item, UnchangedFile):
                continue
            reason = f"duplicate document id {item.doc_id!r} (already read from {seen[item.doc_id]})"
            logger.info("skipped %s: %s", item.source, reason)
            yield SkippedFile(item.source, reason)
        else:
            seen[item.doc_id] = item.source
            yield item


SUPPORTED = ", ".join(sorted(INDEXED_SUFFIXES)) + " and BEIR .jsonl"
"""What rag reads, as reports name it."""


def _iter_loaded(paths: Sequence[Path | str], limits: LoadLimits, known: Mapping[str, KnownFile]) -> Iterator[Loaded]:
    for raw in paths:
        named = Path(os.path.abspath(Path(raw).expanduser()))
        if named.is_dir():
            root = named.resolve()  # a folder named on the command line is the user's choice, link or not
            for file in _iter_folder(root):
                yield from (file,) if isinstance(file, SkippedFile) else _load_guarded(file, root, limits, known)
            continue
        path = named.parent.resolve() / named.name  # a file named directly is checked against its own folder
        if not os.path.lexists(path):
            yield SkippedFile(display_path(path), "no such file or folder")
        elif path.suffix.lower() == ".jsonl":
            yield from load_jsonl_corpus(path, limits)
        elif path.suffix.lower() in INDEXED_SUFFIXES:
            yield from _load_guarded(path, path.parent, limits, known)
        else:
            yield SkippedFile(display_path(path), f"unsupported file type {path.suffix!r}; supported: {SUPPORTED}")


def _iter_folder(root: Path) -> Iterator[str | SkippedFile]:
    """Files below ``root`` with an indexed ending, in sorted order, skipping hidden files and folders (names
    starting with ``.``); links to folders and unreadable folders are reported, not entered; files of other
    types are counted by ending in one report for the folder (a folder of slides and images would otherwise seem
    indexed). Paths are text: a sync meets every file of the folder, and most only to find them unchanged."""
    errors: list[OSError] = []
    other_types: Counter[str] = Counter()

    def unreadable_folders() -> Iterator[SkippedFile]:
        while errors:
            failed = errors.pop(0)
            yield SkippedFile(display_path(failed.filename or root), f"cannot read folder: {os_reason(failed)}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        yield from unreadable_folders()
        linked = sorted(d for d in dirnames if not d.startswith(".") and os.path.islink(os.path.join(dirpath, d)))
        for name in linked:
            yield SkippedFile(display_path(Path(dirpath) / name), "symbolic link to a folder: not followed")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in linked)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            ending = os.path.splitext(name)[1].lower()
            if ending in INDEXED_SUFFIXES:
                yield os.path.join(dirpath, name)
            else:
                other_types[ending or "(no ending)"] += 1
    yield from unreadable_folders()
    if other_types:
        counts = ", ".join(f"{ending} {n:,}" for ending, n in other_types.most_common())
        yield SkippedFile(
            display_path(root),
            f"{other_types.total():,} file(s) of types rag does not read were not indexed ({counts}); it reads "
            f"{SUPPORTED}",
        )


def _load_guarded(path: Path | str, root: Path, limits: LoadLimits, known: Mapping[str, KnownFile]) -> list[Loaded]:
    """``load_file``, with any failure of this one file turned into a report: one file never ends a run."""
    try:
        return list(load_file(path, root, limits, known))
    except Exception as exc:  # a bug or a parser's surprise on one file must not take the index down
        logger.warning("skipped %s after an unexpected error", display_path(path), exc_info=True)
        return [replace(failure_report(path, exc), doc_id=file_doc_id(path, root))]


def load_file(
    path: Path | str,
    root: Path | None = None,
    limits: LoadLimits | None = None,
    known: Mapping[str, KnownFile] | None = None,
) -> Iterator[Loaded]:
    """One file by its kind: text and Markdown as decoded, PDF/HTML/DOCX as extracted (``rag.ingest.formats``); a
    PDF may also report pages that had no text, and any file a cut at ``limits.max_extracted_chars``. Only a
    regular file inside ``root`` (default: its own folder) is read; one whose hash ``known`` holds for its id is
    ``UnchangedFile``, unread beyond its bytes (unread at all when its size and modification time are unchanged)."""
    limits = limits or LoadLimits()
    root = root or Path(path).parent
    doc_id = file_doc_id(path, root)
    previous = (known or {}).get(doc_id)
    info = _regular_file_stat(path)
    if previous is not None and previous.mtime_ns is not None and (previous.file_size, previous.mtime_ns) == info:
        yield UnchangedFile(doc_id, display_path(path), previous.sha256)
        return
    path = Path(path)
    data = read_regular_file(path, root, limits)
    if isinstance(data, SkippedFile):
        yield replace(data, doc_id=doc_id) if data.doc_id else data
        return
    if previous is not None and previous.sha256 == hashlib.sha256(data).hexdigest():
        yield UnchangedFile(doc_id, display_path(path), previous.sha256)
        return
    suffix = path.suffix.lower()
    loaded = (
        extract_within_limit(path, data, limits)
        if suffix in EXTRACTED_SUFFIXES
        else load_text_bytes(path, data, limits)
    )
    for item in loaded:
        if isinstance(item, Document) and suffix in MARKDOWN_SUFFIXES:
            item = markdown_document(item)
        if isinstance(item, Document) and info is not None:
            item = replace(item, file_size=info[0], mtime_ns=info[1])
        yield replace(item, doc_id=doc_id) if item.doc_id else item


RACY_NS = 2_000_000_000
"""A file modified less than this long before it is read may change again within the same timestamp tick (file
times are only as fine as the kernel's clock tick): its time is not recorded, so the next sync hashes it (git's
"racily clean" rule)."""


def _regular_file_stat(path: Path | str) -> tuple[int, int | None] | None:
    """Size and modification time of a regular file (not a link: those are checked where they are read)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None  # reading it says why
    if not stat.S_ISREG(info.st_mode):
        return None
    racy = info.st_mtime_ns >= time.time_ns() - RACY_NS
    return info.st_size, None if racy else info.st_mtime_ns


def load_text_bytes(path: Path, data: bytes, limits: LoadLimits | None = None) -> Iterator[Document | SkippedFile]:
    """The document decoded from the bytes of one text file, or why it is not text. Text past
    ``limits.max_extracted_chars`` is cut and the cut reported (offsets of what is kept do not change)."""
    limits = limits or LoadLimits()
    source, doc_id = display_path(path), file_doc_id(path)
    try:
        text, encoding = decode_bytes(data)
    except UndecodableFileError as exc:
        yield SkippedFile(source, str(exc), doc_id=doc_id)
        return
    if not text.strip():
        yield SkippedFile(source, "empty file (no text)", doc_id=doc_id)
        return
    doc_date, body_start = parse_date_header(text)
    yield Document(
        doc_id=doc_id,
        source=source,
        text=text[: limits.max_extracted_chars],
        encoding=encoding,
        sha256=hashlib.sha256(data).hexdigest(),
        date=doc_date,
        body_start=body_start,
    )
    if len(text) > limits.max_extracted_chars:
        yield SkippedFile(source, limits.cut_reason(len(text)), partial=True)


def load_jsonl_corpus(path: Path, limits: LoadLimits | None = None) -> Iterable[Document | SkippedFile]:
    """Read a BEIR ``corpus.jsonl``: one document per line with ``_id``, optional ``title`` and ``text``.

    The document's text is the ``text`` field verbatim (citations index into it); the title is kept apart so it
    can be embedded without changing offsets. The file is streamed line by line, so ``max_file_bytes`` does not
    apply to it; a line is decoded on its own, so one bad line loses only itself.
    """
    limits = limits or LoadLimits()
    opened = open_regular_file(path, path.parent, limits, sized=False)
    if isinstance(opened, SkippedFile):
        yield opened
        return
    max_line = 4 * limits.max_extracted_chars + 65536
    with os.fdopen(opened, "rb") as handle:
        line_no = 0
        while raw := handle.readline(max_line):
            line_no += 1
            where = f"{display_path(path)}:{line_no}"
            if len(raw) == max_line and not raw.endswith(b"\n"):
                while (rest := handle.readline(max_line)) and not rest.endswith(b"\n"):
                    pass
                yield SkippedFile(where, f"line longer than {max_line:,} bytes (RAG_MAX_EXTRACTED_CHARS): not read")
                continue
            if not raw.strip():
                continue
            item = _jsonl_document(path, where, raw)
            if isinstance(item, Document) and len(item.text) > limits.max_extracted_chars:
                yield replace(item, text=item.text[: limits.max_extracted_chars])
                yield SkippedFile(item.source, limits.cut_reason(len(item.text)), partial=True)
            else:
                yield item


def _jsonl_document(path: Path, where: str, raw: bytes) -> Document | SkippedFile:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return SkippedFile(where, f"invalid UTF-8 at byte {exc.start} of the line")
    except json.JSONDecodeError as exc:
        return SkippedFile(where, f"invalid JSON: {exc.msg}")
    if not isinstance(record, dict) or not isinstance(record.get("_id"), str | int):
        return SkippedFile(where, "line has no '_id' field")
    doc_id = str(record["_id"])
    text = record.get("text")
    title = record.get("title") or None
    source = f"{display_path(path)}#{doc_id}"
    if not isinstance(text, str) or not text.strip():
        return SkippedFile(source, "document has no text")
    try:
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:
        return SkippedFile(source, "text holds a lone surrogate escape (\\udXXX), which is not a character")
    return Document(
        doc_id=doc_id,
        source=source,
        text=text,
        encoding="utf-8",
        sha256=sha256,
        title=title if isinstance(title, str) else None,
    )
