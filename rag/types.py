"""The typed records that cross stage boundaries: what loading produces (``Document`` with its pages, sections and
tables, or a ``SkippedFile``), what chunking produces (``Chunk``), what the index keeps per passage
(``SentenceVectors``) and what a search returns (``Hit`` with its ``Citation`` and highlighted ``Span``).

They live at the bottom of the package so that every stage can import them without importing another stage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np

from rag.errors import InvalidQueryError
from rag.textforms import searchable_with_offsets

Mode = Literal["dense", "bm25", "hybrid"]
"""How passages are retrieved: dense vectors, BM25, or both fused."""
MODES: tuple[str, ...] = get_args(Mode)
MAX_QUERY_CHARS = 2000
"""The longest question accepted, in characters (after trimming)."""
MAX_TOP_K = 100
"""The most passages one search returns."""

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".xml"})
"""Read as decoded text and cited in it; ``.xml`` (RSS feeds, DocBook) as text with its markup, in the encoding its
declaration names."""
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
WEB_ARCHIVE_SUFFIXES = frozenset({".mht", ".mhtml"})
"""A page saved by a browser as one file (MHTML: the page and its resources as MIME parts)."""
EXTRACTED_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".xhtml", ".docx"}) | WEB_ARCHIVE_SUFFIXES
INDEXED_SUFFIXES = TEXT_SUFFIXES | EXTRACTED_SUFFIXES
"""File endings read from folders. A ``.jsonl`` file named on its own is read as a BEIR corpus."""


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
    file_size: int | None = None
    mtime_ns: int | None = None
    """The file's size and modification time when read: a later sync that finds both unchanged trusts the file is
    too, without reading it (a changed size or time means its bytes are hashed)."""


@dataclass(frozen=True)
class SkippedFile:
    """A file (or JSONL line, or part of a file) that was not indexed, and why."""

    source: str
    reason: str
    doc_id: str | None = None
    """Set when a document could not be read this time (permissions, damaged content): an index that holds an
    earlier version of it keeps that version. Unset for what is refused on principle (links out of the folder,
    FIFOs, files over the size limit): those never stay in an index."""
    partial: bool = False
    """True when the rest of the file was indexed and only this part was left out (text past the size limit,
    bytes a web page's charset does not decode): a report, not a refusal."""


@dataclass(frozen=True)
class UnchangedFile:
    """A file whose bytes hash as the version the index holds: recognised before it is decoded or extracted, so a
    sync that changes nothing reads each file once and extracts none."""

    doc_id: str
    source: str
    sha256: str


@dataclass(frozen=True)
class KnownFile:
    """What an index remembers of a document's file: the hash of its bytes, and its size and modification time
    (None for documents that are not files, such as BEIR corpus lines)."""

    sha256: str
    file_size: int | None = None
    mtime_ns: int | None = None
    source: str | None = None
    """Where the document was read from last time (a folder that moved changes it)."""


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: its exact character span, its 1-based lines and its size in model tokens."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    line_start: int
    line_end: int
    n_tokens: int
    context: str | None = None
    """Text embedded in front of the passage (title, heading path, a split table's header), never shown or cited."""
    section: str | None = None
    """Heading path of the passage (Markdown, HTML, DOCX), for example ``Install > Linux``."""
    page: Page | None = None
    """The PDF page the passage lies on (passages never cross pages)."""

    @cached_property
    def _searchable(self) -> tuple[str, list[int]]:
        return searchable_with_offsets(self.text)

    @property
    def embed_text(self) -> str:
        """What the embedding model sees: the context line, then the passage, in its searchable form (ligatures,
        compatibility forms and invisible characters folded; see ``rag.textforms``)."""
        text = self._searchable[0]
        return f"{self.context}\n{text}" if self.context else text

    def embed_span(self, start: int, end: int) -> tuple[int, int]:
        """A span of the source (inside this chunk) in the coordinates of ``embed_text``."""
        offsets = self._searchable[1]
        shift = len(self.context) + 1 if self.context else 0
        return offsets[start - self.start] + shift, offsets[end - self.start] + shift


@dataclass(frozen=True)
class SentenceVectors:
    """The sentences of one chunk: spans in the source's coordinates and one normalised vector per sentence."""

    spans: list[tuple[int, int]]
    vectors: np.ndarray


@dataclass(frozen=True)
class Span:
    """Character offsets into the source text, end exclusive."""

    start: int
    end: int


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: ``text == decoded_source_text[start:end]``, on lines ``line_start..line_end``."""

    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    date: str | None
    doc_id: str
    section: str | None = None
    """Heading path of the passage (Markdown, HTML, DOCX), for example ``Install > Linux``."""
    page: int | None = None
    """1-based physical page (PDF); ``start``/``end`` and the lines then count within that page's text."""
    page_label: str | None = None
    """The page label the PDF defines for that page, if any (for example ``iv``)."""


@dataclass(frozen=True)
class Hit:
    """One ranked passage."""

    rank: int
    score: float
    text: str
    citation: Citation
    highlight: Span | None = None
    """The sentence of ``text`` most similar to the question, in the source's coordinates (like the citation)."""
    relevance: float | None = None
    """How likely the passage answers the question, 0..1 (0.5 at the ``answer_threshold`` setting), from its
    best sentence's similarity to the question; see ``rag.search.answerability``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to some documents: a glob on the source path, and an inclusive range of dates.

    The glob matches the source as cited (relative to the working directory) or the absolute path, with
    ``fnmatch`` rules (``*`` also crosses ``/``). A date bound excludes documents without a date.
    """

    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidQueryError(f"date_from {self.date_from} is after date_to {self.date_to}")

    @property
    def is_empty(self) -> bool:
        return self.source is None and self.date_from is None and self.date_to is None
