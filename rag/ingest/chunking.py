"""Chunking: split documents into passages along sentence boundaries, sized in the embedding model's own tokens.

A passage in a language the model does not read holds as many words as one in a language it does: an English
tokenizer cuts Greek, Russian or Korean words into four to eight pieces, so a passage sized in its tokens would be a
sentence fragment, too short for BM25 to match or a reader to follow (README: Questions in other languages).

Chunks are spans, never rewritten text: ``document.text[chunk.start:chunk.end] == chunk.text`` always holds.
No chunk is longer than the model's maximum sequence length, so the model never silently truncates a passage;
a sentence longer than a chunk is cut at its line breaks, and a line longer than a chunk at token boundaries.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sentencex import get_sentence_boundaries

from rag.language import LanguageCheck
from rag.settings import Settings
from rag.textforms import line_breaks, line_number, searchable
from rag.types import Chunk, Document, Page, Table

logger = logging.getLogger(__name__)

ENGLISH_TOKENS_PER_WORD = 1.35
"""Model tokens per word of English text, for which ``chunk_tokens`` was set (all-MiniLM-L6-v2's tokenizer: 1.23 on
the seeds, 1.33 on dbpedia-mini, 1.49 on SciFact, 1.2-1.6 on the dev set's English documents; README)."""

LANGUAGE_SAMPLE_CHARS = 10_000
"""How much of a document's body its language and words per token are read from."""

_IDEOGRAPHS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_IDEOGRAPHS}]|[^\W{_IDEOGRAPHS}]+")
"""A word: a run of letters and digits, or one Chinese or Japanese character (those scripts put no spaces between
words; Korean does)."""


class Tokenizer(Protocol):
    """The slice of a Hugging Face fast tokenizer that chunking needs."""

    def __call__(self, text: list[str], **kwargs: Any) -> Any: ...


def sentence_spans(text: str, language: str = "en", start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text[start:end]`` in ``text``'s coordinates, white space trimmed."""
    offset, spans = start, []
    for boundary in get_sentence_boundaries(language, text[start:end]):
        first, stop = offset + boundary["start_index"], offset + boundary["end_index"]
        while first < stop and text[first].isspace():
            first += 1
        while stop > first and text[stop - 1].isspace():
            stop -= 1
        if first < stop:
            spans.append((first, stop))
    return spans


def sentence_spans_of(chunk: Chunk, language: str = "en") -> list[tuple[int, int]]:
    """The sentences of a chunk in its source's coordinates; the whole chunk if no sentence is found."""
    offset = chunk.start
    return [(offset + a, offset + b) for a, b in sentence_spans(chunk.text, language)] or [(chunk.start, chunk.end)]


@dataclass(frozen=True)
class _Region:
    """A stretch of a document that chunks never cross: one section of one page, or one table."""

    start: int
    end: int
    section: str | None
    page: Page | None
    table: Table | None


def _regions(doc: Document) -> list[_Region]:
    """The body cut at every page, section and table boundary; stretches of white space are left out."""
    cuts = {doc.body_start, len(doc.text)}
    for span in (*doc.pages, *doc.sections, *doc.tables):
        cuts.update(x for x in (span.start, span.end) if doc.body_start <= x <= len(doc.text))
    points = sorted(cuts)
    regions = []
    for start, end in itertools.pairwise(points):
        if not doc.text[start:end].strip():
            continue
        regions.append(
            _Region(
                start,
                end,
                section=next((s.path for s in reversed(doc.sections) if s.start <= start < s.end), None),
                page=next((p for p in doc.pages if p.start <= start < p.end), None),
                table=next((t for t in doc.tables if t.start <= start < t.end), None),
            )
        )
    return regions


@dataclass(frozen=True)
class _Unit:
    """A sentence, or a piece of an over-long sentence: the smallest thing chunks are packed from."""

    start: int
    end: int
    n_tokens: int


class Chunker:
    """Packs whole sentences into passages of at most ``chunk_tokens`` tokens, repeating up to
    ``overlap_tokens`` tokens of trailing sentences at the start of the next passage.

    ``max_tokens`` is the hard limit the model accepts for content (its max sequence length minus special tokens).
    With ``languages`` (the model's), a document in none of them gets passages of as many words as a passage of
    ``chunk_tokens`` holds in English, up to ``max_tokens``; the overlap keeps its share of the passage.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        chunk_tokens: int,
        overlap_tokens: int,
        max_tokens: int,
        language: str = "en",
        embed_titles: bool = True,
        languages: LanguageCheck | None = None,
    ) -> None:
        if overlap_tokens >= chunk_tokens:
            raise ValueError(f"overlap_tokens ({overlap_tokens}) must be smaller than chunk_tokens ({chunk_tokens})")
        if max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
        self.tokenizer = tokenizer
        self.chunk_tokens = min(chunk_tokens, max_tokens)
        self.overlap_tokens = overlap_tokens
        self.max_tokens = max_tokens
        self.language = language
        self.embed_titles = embed_titles
        self.languages = languages

    @classmethod
    def from_settings(
        cls, settings: Settings, tokenizer: Tokenizer, max_tokens: int, languages: LanguageCheck | None = None
    ) -> Chunker:
        """The chunker a build uses: ``settings``' sizes, language and titles, the model's tokenizer, limit and
        languages."""
        return cls(
            tokenizer,
            chunk_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            max_tokens=max_tokens,
            language=settings.language,
            embed_titles=settings.embed_titles,
            languages=languages,
        )

    def chunk(self, document: Document) -> list[Chunk]:
        """Chunks of one document."""
        return self.chunk_batch([document])[0]

    def chunk_batch(self, documents: Sequence[Document]) -> list[list[Chunk]]:
        """Chunks of each document, in document order."""
        return [self._chunk_document(doc) for doc in documents]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens of each text as it is embedded (its searchable form), without special tokens."""
        if not texts:
            return []
        encoded = self.tokenizer([searchable(t) for t in texts], add_special_tokens=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def passage_size(self, doc: Document) -> tuple[int, int]:
        """Passage and overlap size in tokens for ``doc``: the configured ones, unless the document is in none of
        the model's languages and its words take more tokens than English ones do."""
        sample = doc.text[doc.body_start : doc.body_start + LANGUAGE_SAMPLE_CHARS]
        if self.languages is None or not sample.strip() or self.languages.reads(sample):
            return self.chunk_tokens, self.overlap_tokens
        words = len(_WORD.findall(searchable(sample)))
        scale = self.count_tokens([sample])[0] / max(words, 1) / ENGLISH_TOKENS_PER_WORD
        if scale <= 1:
            return self.chunk_tokens, self.overlap_tokens
        size = min(self.max_tokens, round(self.chunk_tokens * scale))
        overlap = self.overlap_tokens * size // self.chunk_tokens
        logger.debug("%s is in another language: passages of %d tokens, %d overlapping", doc.source, size, overlap)
        return size, overlap

    def _chunk_document(self, doc: Document) -> list[Chunk]:
        size, overlap = self.passage_size(doc)
        title = self._context_for(doc)
        breaks = line_breaks(doc.text)
        chunks: list[Chunk] = []
        for region in _regions(doc):
            context = "\n".join(dict.fromkeys(x for x in (title, region.section) if x)) or None  # a title heading once
            if context and self.count_tokens([context])[0] > self.max_tokens // 4:
                context = title  # a heading path that long would crowd out the passage; it stays in the citation
            if region.table is not None:
                pieces = self._table_pieces(doc.text, region.table, context, size)
            else:
                limit = self.max_tokens - (self.count_tokens([context])[0] + 1 if context else 0)
                budget = min(size, limit)
                units = self._units(doc.text, region.start, region.end, budget)
                groups = self._pack(units, budget, overlap)
                pieces = [(*span, context) for span in self._fit(doc.text, groups, limit)]
            for start, end, n_tokens, piece_context in pieces:
                chunks.append(
                    Chunk(
                        doc_id=doc.doc_id,
                        ordinal=len(chunks),
                        start=start,
                        end=end,
                        text=doc.text[start:end],
                        line_start=line_number(breaks, start),
                        line_end=line_number(breaks, end),
                        n_tokens=n_tokens,
                        context=piece_context,
                        section=region.section,
                        page=region.page,
                    )
                )
        return chunks

    def _table_pieces(
        self, text: str, table: Table, context: str | None, size: int
    ) -> list[tuple[int, int, int, str | None]]:
        """A table whole if it fits, else groups of rows; every group after the first carries the header in the
        text that is embedded (the cited span is the rows themselves)."""
        limit = self.max_tokens - (self.count_tokens([context])[0] + 1 if context else 0)
        whole = self.count_tokens([text[table.start : table.end]])[0]
        if whole <= min(size, limit) or table.header_end >= table.end:
            return [(table.start, table.end, whole, context)]
        header = text[table.start : table.header_end]
        rows = []
        position = table.header_end
        for line in text[table.header_end : table.end].split("\n"):
            stripped = line.strip()
            if stripped:
                first = position + line.index(stripped[0])
                rows.append((first, first + len(stripped)))
            position += len(line) + 1
        counts = self.count_tokens([text[a:b] for a, b in rows])
        header_tokens = self.count_tokens([header])[0]
        continued = "\n".join(x for x in (context, header) if x)
        pieces: list[tuple[int, int, int, str | None]] = []
        start, total, budget = table.start, header_tokens, min(size, limit)
        group_end = None
        for (row_start, row_end), count in zip(rows, counts, strict=True):
            if group_end is not None and total + count > budget:
                pieces.append((start, group_end, total, context if start == table.start else continued))
                start, total = row_start, 0
                budget = min(size, limit - header_tokens - 1)
            total += count
            group_end = row_end
        if group_end is not None:
            pieces.append((start, group_end, total, context if start == table.start else continued))
        return pieces

    def _context_for(self, doc: Document) -> str | None:
        """The title to embed with each passage, unless it would crowd out the passage itself."""
        if not (self.embed_titles and doc.title and doc.title.strip()):
            return None
        title = doc.title.strip()
        if self.count_tokens([title])[0] > self.max_tokens // 4:
            logger.debug("title of %s too long to embed with its passages; left out", doc.doc_id)
            return None
        return title

    def _units(self, text: str, start: int, end: int, budget: int) -> list[_Unit]:
        """Sentence spans of ``text[start:end]`` (white space trimmed) with token counts. A sentence longer than
        ``budget`` is cut into its lines, packed like sentences: what runs that long without a stop is mostly a
        table, a list, or headings and figure labels set line by line, so its first lines fill the passage before
        it and its rows stay whole. A line still too long is cut into token windows."""
        spans = [piece for span in sentence_spans(text, self.language, start, end) for piece in _bounded(text, *span)]
        if not spans:
            return []
        encoded = self.tokenizer(
            [text[s:e] for s, e in spans], add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        units: list[_Unit] = []
        for (start, end), offsets in zip(spans, encoded["offset_mapping"], strict=True):
            if not offsets:
                continue  # only characters the tokenizer drops (control or zero-width): nothing to embed
            if len(offsets) <= budget:
                units.append(_Unit(start, end, len(offsets)))
                continue
            sentence = text[start:end]
            for line_first, line_stop in _line_ranges(sentence, offsets):
                line = offsets[line_first:line_stop]
                for first, stop in _split_long_sentence(sentence, line, budget):
                    units.append(_Unit(start + line[first][0], start + line[stop - 1][1], stop - first))
        return units

    def _pack(self, units: list[_Unit], budget: int, overlap: int) -> list[list[_Unit]]:
        """Greedy packing of whole units under ``budget``, with trailing units repeated as overlap."""
        groups: list[list[_Unit]] = []
        first = 0
        while first < len(units):
            stop, total = first, 0
            while stop < len(units) and total + units[stop].n_tokens <= budget:
                total += units[stop].n_tokens
                stop += 1
            stop = max(stop, first + 1)
            groups.append(units[first:stop])
            if stop >= len(units):
                break
            # Repeat trailing units as overlap, but only as many as leave room for the next new unit: a chunk
            # made of overlap alone would repeat text without adding any.
            room = min(overlap, budget - units[stop].n_tokens)
            back, carried = stop, 0
            while back - 1 > first and carried + units[back - 1].n_tokens <= room:
                back -= 1
                carried += units[back].n_tokens
            first = back
        return groups

    def _fit(self, text: str, groups: list[list[_Unit]], limit: int) -> list[tuple[int, int, int]]:
        """Spans of the packed groups, measured as whole texts; a group over ``limit`` is split in two.

        Token counts of sentences can differ from the count of the joined text by a token or so for some
        tokenizers; this is the check that makes the no-truncation promise exact.
        """
        pending = list(groups)
        spans: list[tuple[int, int, int]] = []
        while pending:
            counts = self.count_tokens([text[g[0].start : g[-1].end] for g in pending])
            retry: list[list[_Unit]] = []
            for group, count in zip(pending, counts, strict=True):
                if count <= limit or len(group) == 1:
                    spans.append((group[0].start, group[-1].end, count))
                else:
                    middle = len(group) // 2
                    retry.extend([group[:middle], group[middle:]])
            pending = retry
        spans.sort()
        return spans


_CLOSERS = "\"'”’)]»"
_CUT_STRENGTHS = (".!?…。！？", ";:；：", ",，", "")
"""Marks a cut may follow, strongest first; the empty string accepts any gap between words."""


def _split_long_sentence(sentence: str, offsets: list[tuple[int, int]], budget: int) -> list[tuple[int, int]]:
    """Token ranges of at most ``budget`` tokens covering an over-long sentence, or the line of it whose tokens
    ``offsets`` are (offsets into ``sentence``).

    Cuts go where the text has white space after a sentence mark (a quoted passage the sentence splitter kept
    whole), else after a semicolon or colon, else after a comma, else between words, and only as a last resort
    inside a word. A cut is never placed in the first quarter of a window, so pieces do not come out tiny.
    """
    pieces = []
    first, total = 0, len(offsets)
    while total - first > budget:
        cut = first + budget
        for marks in _CUT_STRENGTHS:
            found = next(
                (i for i in range(first + budget, first + budget // 4, -1) if _cuttable(sentence, offsets, i, marks)),
                None,
            )
            if found is not None:
                cut = found
                break
        pieces.append((first, cut))
        first = cut
    pieces.append((first, total))
    return pieces


def _line_ranges(sentence: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Token ranges of each line of a sentence (by its tokens' character ``offsets``)."""
    ranges, first = [], 0
    for i in range(1, len(offsets)):
        gap = sentence[offsets[i - 1][1] : offsets[i][0]]
        if "\n" in gap or "\r" in gap:
            ranges.append((first, i))
            first = i
    ranges.append((first, len(offsets)))
    return ranges


def _cuttable(sentence: str, offsets: list[tuple[int, int]], i: int, marks: str) -> bool:
    """Whether a cut before token ``i`` falls on white space that follows one of ``marks`` (any, if empty), closing
    quotes and brackets after the mark allowed. Looks back from the cut only, never copies the sentence."""
    end = offsets[i - 1][1]
    if offsets[i][0] <= end:
        return False
    if not marks:
        return True
    while end > 0 and sentence[end - 1] in _CLOSERS:
        end -= 1
    return end > 0 and sentence[end - 1] in marks


MAX_PIECE_CHARS = 20_000
"""The longest stretch of text handed to the tokenizer at once: a "sentence" longer than this (a file on one line,
a table without stops) is first cut at white space, so tokenizing costs memory in proportion to a piece, not a
file. Ordinary sentences are far shorter and never cut here."""


def _bounded(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``(start, end)`` as pieces of at most ``MAX_PIECE_CHARS``, cut after the last white space of each window
    (or at the window's end when it has none in its second half)."""
    pieces = []
    while end - start > MAX_PIECE_CHARS:
        window_end = start + MAX_PIECE_CHARS
        cut = window_end
        for i in range(window_end, start + MAX_PIECE_CHARS // 2, -1):
            if text[i - 1].isspace():
                cut = i
                break
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        if piece_end > start:
            pieces.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces
