"""Search: questions in, ranked passages with verifiable citations out.

A question goes: retrieve chunk candidates (dense vectors, BM25, or both fused) -> optionally rerank them with a
cross-encoder -> join a passage that overlaps a better one of the same document to it -> mark each passage's answering
sentence. The single-question call is the batch call: ``search(q)`` is ``search_batch([q])[0]``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.errors import DocumentNotFoundError, InvalidQueryError
from rag.index.manifest import Manifest
from rag.index.reader import Index, open_index
from rag.index.store import DocumentInfo, StoredChunk
from rag.search.answerability import relevance
from rag.search.citation import to_hit
from rag.search.fusion import Ranking
from rag.search.highlight import best_sentence
from rag.search.rerank import Reranker
from rag.search.retriever import Retriever
from rag.settings import Settings
from rag.types import MAX_QUERY_CHARS, MAX_TOP_K, MODES, Hit, SearchFilters, SentenceVectors, Span

logger = logging.getLogger(__name__)


_BLANK = "".join(c for c in map(chr, range(0x3001)) if c.isspace() or unicodedata.category(c) == "Cc")
"""White space and the C0/C1 control characters (every white space character lies below U+3001): a question of
only these asks nothing. Stripped with ``str.strip``, which is linear, where a regex anchored at the end is not."""
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A UTF-16 surrogate on its own (what a JSON ``\\ud800`` escape decodes to): not a character."""


def validate_query(query: str) -> str:
    """The query stripped of surrounding white space and control characters, or an ``InvalidQueryError`` saying
    what is wrong. A lone surrogate (which JSON's ``\\ud800`` escape can smuggle in) is refused here, because it
    is not text: the tokenizer fails on it and no response holding it can be encoded as UTF-8."""
    if not isinstance(query, str):
        raise InvalidQueryError(f"a question must be a string, got {type(query).__name__}")
    if surrogate := LONE_SURROGATE.search(query):
        raise InvalidQueryError(
            f"the question holds a lone surrogate (U+{ord(surrogate.group()):04X}) at character "
            f"{surrogate.start()}, which is not text; send the question as valid Unicode"
        )
    stripped = query.strip(_BLANK)
    if not stripped:
        raise InvalidQueryError('the question is empty; ask something, for example: rag search "What happened?"')
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"the question has {len(stripped)} characters; the limit is {MAX_QUERY_CHARS}")
    return stripped


def validate_top_k(k: int) -> int:
    if not 1 <= k <= MAX_TOP_K:
        raise InvalidQueryError(f"k must be between 1 and {MAX_TOP_K}, got {k}")
    return k


def validate_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidQueryError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


class Searcher:
    """Answers questions from one opened index with one loaded model (and a cross-encoder, when configured):
    the retriever's rankings become passages with citations, and the index's documents can be read back."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        settings: Settings,
        reranker: Reranker | None = None,
        *,
        display_root: Path | None = None,
    ) -> None:
        self.display_root = display_root or Path.cwd()
        """Citations name sources relative to this folder when they lie under it (default: the working directory
        when the searcher was made, fixed from then on), else by their absolute path."""
        self.retriever = Retriever(index, embedder, settings, reranker, display_root=self.display_root)

    @classmethod
    def open(cls, settings: Settings, index_dir: Path | None = None) -> Searcher:
        """Open the index (checked against the settings) and load its models once."""
        index = open_index(Path(index_dir or settings.index_dir), settings)
        embedder = Embedder.from_settings(settings)
        reranker = Reranker(settings.reranker, device=settings.device) if settings.reranker else None
        return cls(index, embedder, settings, reranker)

    @property
    def index(self) -> Index:
        return self.retriever.index

    @property
    def embedder(self) -> Embedder:
        return self.retriever.embedder

    @property
    def settings(self) -> Settings:
        return self.retriever.settings

    @property
    def reranker(self) -> Reranker | None:
        return self.retriever.reranker

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.index.close()

    @property
    def manifest(self) -> Manifest:
        """What the served index is: build id and time, model, counts."""
        return self.index.manifest

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> list[Hit]:
        """Top-``k`` passages for one question."""
        return self.search_batch([query], k, filters, mode=mode, rerank=rerank)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> list[list[Hit]]:
        """Top-``k`` passages for each question, best first, none overlapping another of the same document.

        ``mode`` is ``dense``, ``bm25`` or ``hybrid`` (default: the setting); ``rerank`` defaults to whether a
        cross-encoder is configured. Equal scores are ordered by chunk id."""
        k = validate_top_k(k if k is not None else self.settings.top_k)
        mode = validate_mode(mode or self.settings.mode)
        rerank = self.retriever.use_reranker(rerank)
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        allowed = None if filters is None or filters.is_empty else self.retriever.allowed_chunk_ids(filters)
        if allowed is not None and allowed.count == 0:
            return [[] for _ in cleaned]
        vectors = self.embedder.embed_queries(cleaned)  # for bm25 too: each passage's relevance needs it
        rankings = self.retriever.rank(cleaned, vectors, mode, self.retriever.depth(3 * k, mode), allowed)
        stored = self.index.store.chunks(int(i) for r in rankings for i in r.ids)
        if rerank:
            texts = {chunk_id: chunk.text for chunk_id, chunk in stored.items()}
            rankings = self.retriever.rerank(cleaned, rankings, max(self.settings.rerank_depth, 2 * k), texts=texts)
        kept = [_joined_overlaps(ranking, stored, k) for ranking in rankings]
        sentences = self.index.store.sentences(cid for row in kept for passage in row for cid in passage.ids)
        threshold, highlight, root = self.settings.answer_threshold, self.settings.highlight, self.display_root
        results = []
        for vector, row in zip(vectors, kept, strict=True):
            hits = []
            for rank, passage in enumerate(row, start=1):
                best = _best_sentence(vector, [sentences[cid] for cid in passage.ids if cid in sentences])
                span, similarity = best if best else (None, None)
                score = None if similarity is None else relevance(similarity, threshold)
                hits.append(to_hit(rank, passage.score, passage.chunk, span if highlight else None, root, score))
            results.append(hits)
        return results

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document's metadata, without its text."""
        return self.index.store.documents()

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document's metadata, or None when no document has that id."""
        return self.index.store.document(doc_id)

    def document_text(self, doc_id: str, page: int | None = None, *, for_span: bool = False) -> str:
        """The text a document's citations index into: all of it, or for a PDF the text of ``page``.

        Raises ``DocumentNotFoundError`` for an unknown id or page, and, ``for_span``, ``InvalidQueryError`` when a
        PDF is asked for without a page (its citations count within pages)."""
        text = self.index.store.document_text(doc_id)
        if text is None:
            raise DocumentNotFoundError(f"no indexed document with id {doc_id!r}; see GET /documents")
        pages = self.index.store.document_pages(doc_id)
        if page is None:
            if for_span and pages:
                raise InvalidQueryError("this PDF is cited per page: give page= with start and end")
            return text
        found = next((p for p in pages if p[2] == page), None)
        if found is None:
            numbers = ", ".join(str(p[2]) for p in pages) or "none: this document has no pages"
            raise DocumentNotFoundError(f"no indexed page {page} (indexed pages: {numbers})")
        return text[found[0] : found[1]]


@dataclass(frozen=True)
class _Passage:
    """A result before it becomes a ``Hit``: one chunk, or two overlapping chunks of a document joined."""

    chunk: StoredChunk
    score: float
    ids: tuple[int, ...]


def _joined_overlaps(ranking: Ranking, stored: dict[int, StoredChunk], k: int) -> list[_Passage]:
    """The best ``k`` passages. A candidate that overlaps a better passage of the same document is joined to it
    (the union of the two spans, at the better score) rather than shown again or dropped: the answer often lies
    just past the end of the better chunk, in the next one. A passage joins at most two chunks; a candidate that
    overlaps a joined one is skipped."""
    kept: list[_Passage] = []
    for chunk_id, score in zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True):
        chunk = stored.get(chunk_id)
        if chunk is None:
            continue
        overlapping = [
            i
            for i, p in enumerate(kept)
            if p.chunk.doc_id == chunk.doc_id and chunk.start < p.chunk.end and p.chunk.start < chunk.end
        ]
        if not overlapping:
            kept.append(_Passage(chunk, score, (chunk_id,)))
        elif len(overlapping) == 1 and len(kept[overlapping[0]].ids) == 1:
            better = kept[overlapping[0]]
            kept[overlapping[0]] = _Passage(_union(better.chunk, chunk), better.score, (*better.ids, chunk_id))
        if len(kept) == k:
            break
    return kept


def _union(better: StoredChunk, other: StoredChunk) -> StoredChunk:
    """Two overlapping chunks of one document (so of one page and section) as one span, cited as ``better``."""
    first, second = sorted((better, other), key=lambda c: (c.start, c.end))
    if second.end <= first.end:
        return replace(better, start=first.start, end=first.end, text=first.text, line_start=first.line_start,
                       line_end=first.line_end)  # fmt: skip
    text = first.text + second.text[first.end - second.start :]
    return replace(better, start=first.start, end=second.end, text=text, line_start=first.line_start,
                   line_end=second.line_end)  # fmt: skip


def _best_sentence(vector, sentences: list[SentenceVectors]) -> tuple[Span, float] | None:
    """The passage's sentence closest to the question, among the sentences of all its chunks, and its
    similarity."""
    if not sentences:
        return None
    if len(sentences) == 1:
        return best_sentence(vector, sentences[0])
    joined = SentenceVectors([s for group in sentences for s in group.spans], np.vstack([g.vectors for g in sentences]))
    return best_sentence(vector, joined)
