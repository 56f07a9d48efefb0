"""Lexical retrieval: a BM25 index (bm25s) over the same chunks as the vector index, keyed by the same chunk ids.

Dense retrieval with a small model misses names, numbers and rare terms; BM25 finds them. The tokenizer is ours
(bm25s scores lists of tokens) so that it does not fail silently on text without spaces: runs of Chinese,
Japanese or Korean characters become overlapping character bigrams, the usual CJK treatment in Lucene.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s import stopwords as bm25s_stopwords

from rag.textforms import searchable

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.NOTSET)  # bm25s pins itself to DEBUG; let the application decide

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")

STEMMERS = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "fi": "finnish", "fr": "french", "hu": "hungarian", "it": "italian",
    "lt": "lithuanian", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sv": "swedish", "tr": "turkish",
}  # fmt: skip
"""Language codes (as in ``Settings.language``) to Snowball stemmers shipped by PyStemmer."""

SCRIPT_STEMMERS = [
    (re.compile("[\u0370-\u03ff\u1f00-\u1fff]"), "greek"),
    (re.compile("[\u0400-\u04ff]"), "russian"),
    (re.compile("[\u0530-\u058f]"), "armenian"),
    (re.compile("[\u0600-\u06ff]"), "arabic"),
]
"""Scripts whose words are stemmed for their language whatever ``RAG_LANGUAGE`` is (a Latin-script language
setting cannot stem them); matched on a word's first character."""

STOPWORDS = {
    "en": bm25s_stopwords.STOPWORDS_EN, "de": bm25s_stopwords.STOPWORDS_GERMAN,
    "fr": bm25s_stopwords.STOPWORDS_FRENCH, "es": bm25s_stopwords.STOPWORDS_SPANISH,
    "it": bm25s_stopwords.STOPWORDS_ITALIAN, "pt": bm25s_stopwords.STOPWORDS_PORTUGUESE,
    "nl": bm25s_stopwords.STOPWORDS_DUTCH, "ru": bm25s_stopwords.STOPWORDS_RUSSIAN,
    "sv": bm25s_stopwords.STOPWORDS_SWEDISH, "da": bm25s_stopwords.STOPWORDS_DANISH,
    "no": bm25s_stopwords.STOPWORDS_NORWEGIAN, "tr": bm25s_stopwords.STOPWORDS_TURKISH,
}  # fmt: skip


class LexicalTokenizer:
    """Lower-cased words of the searchable form (``rag.textforms``: "ﬁle" is "file"), stemmed and without stop words
    for ``language``; words in a script that one language has to itself (Greek, Cyrillic as Russian, Armenian,
    Arabic) stemmed for that language, so a folder in several languages is not matched on exact forms only; CJK
    runs as character bigrams."""

    def __init__(self, language: str = "en", *, stem: bool = True, stopwords: bool = True) -> None:
        self.language = language
        name = STEMMERS.get(language.split("-")[0].lower()) if stem else None
        self._stemmer = Stemmer.Stemmer(name) if name else None
        self._script_stemmers = (
            [(script, Stemmer.Stemmer(algorithm)) for script, algorithm in SCRIPT_STEMMERS if algorithm != name]
            if stem
            else []
        )
        self._stopwords = frozenset(STOPWORDS.get(language.split("-")[0].lower(), ())) if stopwords else frozenset()

    def __call__(self, text: str) -> list[str]:
        tokens: list[str] = []
        for match in _TOKEN.finditer(searchable(text).lower()):
            word = match.group()
            if _IS_CJK.match(word):
                tokens.extend([word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)])
            elif word not in self._stopwords:
                tokens.append(word)
        groups: dict[Stemmer.Stemmer, list[int]] = {}
        for position, token in enumerate(tokens):
            if stemmer := self._stemmer_for(token):
                groups.setdefault(stemmer, []).append(position)
        for stemmer, positions in groups.items():
            for position, stemmed in zip(positions, stemmer.stemWords([tokens[i] for i in positions]), strict=True):
                tokens[position] = stemmed
        return tokens

    def _stemmer_for(self, token: str) -> Stemmer.Stemmer | None:
        """The stemmer of the token's script when that script has one language to itself (Greek, Cyrillic, ...),
        else the configured language's; none for CJK bigrams."""
        if token[0] < "\u0370":  # Latin, the common case: no script test
            return self._stemmer
        if _IS_CJK.match(token):
            return None
        return next((stemmer for script, stemmer in self._script_stemmers if script.match(token)), self._stemmer)


class LexicalIndex:
    """BM25 over chunk texts; ``search`` returns ``(scores, ids)`` shaped like ``VectorIndex.search``."""

    def __init__(self, retriever: bm25s.BM25, chunk_ids: np.ndarray, tokenizer: LexicalTokenizer) -> None:
        self.retriever = retriever
        self.chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @classmethod
    def build(
        cls,
        chunk_ids: Sequence[int],
        texts: Sequence[str],
        tokenizer: LexicalTokenizer,
        *,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> LexicalIndex:
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index([tokenizer(t) for t in texts], show_progress=False)
        return cls(retriever, np.asarray(chunk_ids, dtype=np.int64), tokenizer)

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """The query's BM25 score of every entry, in index order (``mask``: 1 for entries that may score)."""
        tokens = self.tokenizer(query)
        if not tokens or len(self.chunk_ids) == 0:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens, weight_mask=mask), dtype=np.float32)

    def search(
        self, queries: Sequence[str], k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` chunks per query, best first, ties by the smaller id; chunks sharing no term with the
        query are not returned (``-1`` pads ids, ``0`` pads scores)."""
        k = max(1, min(k, len(self.chunk_ids)))
        mask = None if allowed_ids is None else np.isin(self.chunk_ids, allowed_ids).astype(np.float32)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, query in enumerate(queries):
            values = self.scores(query, mask)
            if not values.any():
                continue
            floor = np.partition(values, len(values) - k)[len(values) - k]  # the k-th best score
            top = np.flatnonzero((values >= floor) & (values > 0))  # every tie at the cut, then exact order
            chosen = top[np.lexsort((self.chunk_ids[top], -values[top]))][:k]
            scores[row, : len(chosen)] = values[chosen]
            ids[row, : len(chosen)] = self.chunk_ids[chosen]
        return scores, ids

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(folder))
        np.save(folder / "chunk_ids.npy", self.chunk_ids)

    @classmethod
    def load(cls, folder: Path, tokenizer: LexicalTokenizer) -> LexicalIndex:
        """Load a saved index; ``tokenizer`` must be configured as the one it was built with (see the manifest)."""
        retriever = bm25s.BM25.load(str(folder), mmap=False)
        return cls(retriever, np.load(folder / "chunk_ids.npy"), tokenizer)


class DocumentLexicalIndex:
    """BM25 over whole documents (title and full text), read per passage: a passage of a document that matches the
    question as a whole gains from it, which passage-level BM25 alone cannot see (see the README's fusion table).

    Documents are numbered in build order; ``chunk_ids`` (sorted) and ``chunk_documents`` map each passage to its
    document's number."""

    def __init__(self, bm25: LexicalIndex, chunk_ids: np.ndarray, chunk_documents: np.ndarray) -> None:
        self.bm25 = bm25
        self.chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self.chunk_documents = np.asarray(chunk_documents, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.bm25)

    @classmethod
    def build(
        cls, texts: Sequence[str], chunk_documents: dict[int, int], tokenizer: LexicalTokenizer, *, k1: float, b: float
    ) -> DocumentLexicalIndex:
        """``texts`` in document-number order; ``chunk_documents`` maps each chunk id to its document's number."""
        bm25 = LexicalIndex.build(range(len(texts)), texts, tokenizer, k1=k1, b=b)
        chunk_ids = np.fromiter(sorted(chunk_documents), dtype=np.int64, count=len(chunk_documents))
        documents = np.fromiter((chunk_documents[int(c)] for c in chunk_ids), dtype=np.int64, count=len(chunk_ids))
        return cls(bm25, chunk_ids, documents)

    def documents_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The document number of each chunk id (all must be indexed)."""
        return self.chunk_documents[np.searchsorted(self.chunk_ids, chunk_ids)]

    def mask(self, allowed_chunk_ids: np.ndarray | None) -> np.ndarray | None:
        """1 for the documents holding one of ``allowed_chunk_ids``, 0 for the others (None: every document);
        made once for a batch of questions under the same filters."""
        if allowed_chunk_ids is None:
            return None
        mask = np.zeros(len(self.bm25), dtype=np.float32)
        mask[self.documents_of(np.asarray(allowed_chunk_ids, dtype=np.int64))] = 1.0
        return mask

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """The query's BM25 score of every document, by number; documents ``mask`` (see ``mask``) leaves out
        score 0."""
        return self.bm25.scores(query, mask)

    def save(self, folder: Path) -> None:
        self.bm25.save(folder)
        np.save(folder / "passage_ids.npy", self.chunk_ids)
        np.save(folder / "passage_documents.npy", self.chunk_documents)

    @classmethod
    def load(cls, folder: Path, tokenizer: LexicalTokenizer) -> DocumentLexicalIndex:
        bm25 = LexicalIndex.load(folder, tokenizer)
        return cls(bm25, np.load(folder / "passage_ids.npy"), np.load(folder / "passage_documents.npy"))
