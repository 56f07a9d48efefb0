"""Lexical retrieval: BM25 over passages and over whole documents, one set of postings per segment.

Dense retrieval with a small model misses names, numbers and rare terms; BM25 finds them. A segment stores raw
term counts, not scores: document frequencies and the average length are summed over all segments at query time
(Lucene's collection statistics), so a segment written by an incremental update scores exactly as if the whole
corpus had been indexed at once, and merging segments is concatenating their postings. The scoring is bm25s's
"lucene" variant (the one this project measured and tuned), computed with numpy over the query's postings only.

The tokenizer is ours so that it does not fail silently on text without spaces: runs of Chinese, Japanese or
Korean characters become overlapping character bigrams, the usual CJK treatment in Lucene.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import Stemmer
from bm25s import stopwords as bm25s_stopwords

from rag.index.arrays import joined
from rag.textforms import searchable

logger = logging.getLogger(__name__)

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


POSTINGS_ARRAYS = ("starts", "units", "counts", "lengths")


@dataclass(frozen=True)
class Postings:
    """One segment's inverted index: for each term, the units (passages, or whole documents) it occurs in, by
    position in the segment, and how often; and each unit's length in terms."""

    vocabulary: dict[str, int]
    starts: np.ndarray
    """``units[starts[t]:starts[t + 1]]`` hold term ``t``."""
    units: np.ndarray
    counts: np.ndarray
    """How often the term occurs in each unit (uint16: a count past 65,535 changes no BM25 score measurably)."""
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def document_frequency(self, term: str) -> int:
        t = self.vocabulary.get(term)
        return 0 if t is None else int(self.starts[t + 1] - self.starts[t])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Units holding ``term`` and its count in each."""
        t = self.vocabulary.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16)
        first, last = int(self.starts[t]), int(self.starts[t + 1])
        return self.units[first:last], self.counts[first:last]

    def save(self, folder: Path, name: str) -> list[Path]:
        """Write under ``folder`` as ``name.*``; returns the files written."""
        terms = [""] * len(self.vocabulary)
        for term, t in self.vocabulary.items():
            terms[t] = term
        vocabulary = folder / f"{name}.terms.json"
        vocabulary.write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        written = [vocabulary]
        for key in POSTINGS_ARRAYS:
            np.save(folder / f"{name}.{key}.npy", getattr(self, key))
            written.append(folder / f"{name}.{key}.npy")
        return written

    @classmethod
    def load(cls, folder: Path, name: str) -> Postings:
        """Arrays memory-mapped (opening costs what the vocabulary costs, not the postings)."""
        terms = json.loads((folder / f"{name}.terms.json").read_text(encoding="utf-8"))
        arrays = {key: np.load(folder / f"{name}.{key}.npy", mmap_mode="r") for key in POSTINGS_ARRAYS}
        return cls({term: t for t, term in enumerate(terms)}, **arrays)


class PostingsBuilder:
    """Collects units' terms as they stream in (a batch at a time), then inverts them once: memory is the
    postings themselves, not the texts."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.size = 0
        self.lengths: list[np.ndarray] = []
        self._terms: list[np.ndarray] = []
        self._units: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def add(self, token_lists: Iterable[list[str]]) -> None:
        """Append units, each given as its terms."""
        terms: list[int] = []
        units: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []
        vocabulary = self.vocabulary
        for tokens in token_lists:
            for term, count in Counter(tokens).items():
                t = vocabulary.get(term)
                if t is None:
                    t = vocabulary[term] = len(vocabulary)
                terms.append(t)
                units.append(self.size)
                counts.append(count)
            lengths.append(len(tokens))
            self.size += 1
        self._terms.append(np.asarray(terms, dtype=np.int32))
        self._units.append(np.asarray(units, dtype=np.int32))
        self._counts.append(np.minimum(np.asarray(counts, dtype=np.int64), 65535).astype(np.uint16))
        self.lengths.append(np.asarray(lengths, dtype=np.float32))

    def extend(self, postings: Postings, keep: np.ndarray) -> None:
        """Append the units of another segment's postings at positions ``keep`` (ascending), as they are: a merge
        or a copy re-tokenises nothing."""
        new_position = np.full(len(postings), -1, dtype=np.int64)
        new_position[keep] = np.arange(len(keep)) + self.size
        vocabulary = self.vocabulary  # terms in id order: dicts keep insertion order, and ids were given in it
        merged_term = np.fromiter(
            (vocabulary.setdefault(term, len(vocabulary)) for term in postings.vocabulary),
            dtype=np.int32, count=len(postings.vocabulary),
        )  # fmt: skip
        units = new_position[np.asarray(postings.units)]
        kept = units >= 0
        self._terms.append(np.repeat(merged_term, np.diff(np.asarray(postings.starts)))[kept])
        self._units.append(units[kept].astype(np.int32))
        self._counts.append(np.asarray(postings.counts)[kept])
        self.lengths.append(np.asarray(postings.lengths)[keep])
        self.size += len(keep)

    def finish(self) -> Postings:
        """Invert what was added: postings ordered by term, then by unit (arrays joined and freed one at a time, so
        the peak is the postings about twice, not four times)."""
        terms = joined(self._terms, np.int32)
        self._terms = []
        order = np.argsort(terms, kind="stable")  # units stay in ascending order within a term
        starts = np.zeros(len(self.vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(self.vocabulary)), out=starts[1:])
        del terms
        units = joined(self._units, np.int32)[order]
        self._units = []
        counts = joined(self._counts, np.uint16)[order]
        self._counts = []
        return Postings(self.vocabulary, starts, units, counts, joined(self.lengths, np.float32))


class BM25:
    """BM25 over the units of several segments, numbered one segment after the other, with collection statistics
    (unit count, document frequencies, average length) taken over all of them. Units deleted since their segment
    was written still count in the statistics until a merge drops them, as in Lucene; they never score (the
    caller's mask removes them)."""

    def __init__(self, segments: Sequence[Postings], tokenizer: LexicalTokenizer, *, k1: float, b: float) -> None:
        self.segments = list(segments)
        self.tokenizer = tokenizer
        self.k1, self.b = k1, b
        self.offsets = np.cumsum([0, *(len(p) for p in self.segments)])
        self.size = int(self.offsets[-1])
        total_length = sum(float(np.sum(p.lengths, dtype=np.float64)) for p in self.segments)
        self.average_length = total_length / self.size if self.size else 1.0

    def __len__(self) -> int:
        return self.size

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """Every unit's score for ``query`` (float32, in unit order); ``mask``: units that may score (others 0). A
        term repeated in the query counts as often as it is repeated."""
        scores = np.zeros(self.size, dtype=np.float32)  # bm25s sums in float32 too
        for term, repeats in Counter(self.tokenizer(query)).items():
            frequency = sum(p.document_frequency(term) for p in self.segments)
            if frequency == 0:
                continue
            idf = np.log(1.0 + (self.size - frequency + 0.5) / (frequency + 0.5))
            for postings, offset in zip(self.segments, self.offsets, strict=False):
                units, counts = postings.postings(term)
                if len(units) == 0:
                    continue
                norm = self.k1 * (1.0 - self.b + self.b * np.asarray(postings.lengths)[units] / self.average_length)
                counts = counts.astype(np.float32)
                scores[offset + units] += (repeats * idf) * counts / (counts + norm.astype(np.float32))
        if mask is not None:
            scores *= mask
        return scores


def top_units(scores: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best positive scores and their ``ids``, best first, equal scores by the smaller id."""
    candidates = np.flatnonzero(scores > 0)  # a question's words reach a small part of a large index
    if len(candidates) == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    values = scores[candidates]
    k = max(1, min(k, len(candidates)))
    floor = np.partition(values, len(values) - k)[len(values) - k]  # the k-th best score
    top = candidates[values >= floor]  # every tie at the cut, then exact order
    chosen = top[np.lexsort((ids[top], -scores[top]))][:k]
    return scores[chosen], ids[chosen]
