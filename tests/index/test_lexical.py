"""BM25 beside the vectors: our tokenizer (Snowball stems, stop words, CJK bigrams) and the bm25s index over chunk
ids (ranking, filtering, ties by id, a round trip through disk); passages read with their headings and table
headers."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest
from conftest import write_bytes

from rag.index.build import build_index
from rag.index.lexical import BM25, LexicalTokenizer, Postings, PostingsBuilder, top_units
from rag.index.reader import open_index


def test_tokenizer_stems_drops_stop_words_and_splits_cjk_into_bigrams() -> None:
    english = LexicalTokenizer("en")
    assert english("The restoration of the territories") == ["restor", "territori"]
    assert LexicalTokenizer("en", stem=False, stopwords=False)("The cats") == ["the", "cats"]
    german = LexicalTokenizer("de")
    assert german("Die Häuser der Stadt") == german("die häuser der stadt") == ["haus", "stadt"]
    assert LexicalTokenizer("en")("北京是中国的首都") == ["北京", "京是", "是中", "中国", "国的", "的首", "首都"]
    assert LexicalTokenizer("en")("COVID-19 in 2023: 北京") == ["covid", "19", "2023", "北京"]
    assert LexicalTokenizer("en")("中") == ["中"]


def postings_of(texts: list[str], tokenizer: LexicalTokenizer) -> Postings:
    builder = PostingsBuilder()
    builder.add(tokenizer(t) for t in texts)
    return builder.finish()


TEXTS = [
    "apples and pears", "apples apples apples", "only pears here", "nothing in common", "apples",
    "a comet passed. the comet returned.", "one comet, seen once, among many other words here", "moons and pears",
]  # fmt: skip


def test_bm25_scores_as_bm25s_does_over_one_segment_or_several(tmp_path: Path) -> None:
    tokenizer = LexicalTokenizer("en")
    reference = bm25s.BM25(k1=0.9, b=0.4)  # the library this project measured its BM25 settings with
    reference.index([tokenizer(t) for t in TEXTS], show_progress=False)
    one = BM25([postings_of(TEXTS, tokenizer)], tokenizer, k1=0.9, b=0.4)
    # split in three segments, one saved and loaded: statistics are summed at query time, so nothing changes
    postings_of(TEXTS[3:6], tokenizer).save(tmp_path, "middle")
    parts = [postings_of(TEXTS[:3], tokenizer), Postings.load(tmp_path, "middle"), postings_of(TEXTS[6:], tokenizer)]
    several = BM25(parts, tokenizer, k1=0.9, b=0.4)
    for query in ("apples", "pears comet", "apples apples pears", "the of and", "unknownword"):
        expected = reference.get_scores(tokenizer(query)) if tokenizer(query) else np.zeros(len(TEXTS))
        assert one.scores(query) == pytest.approx(expected, rel=1e-5)
        assert several.scores(query) == pytest.approx(expected, rel=1e-5)
    mask = np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=np.float32)
    assert several.scores("apples pears", mask).tolist() == (one.scores("apples pears") * mask).tolist()


def test_merged_postings_keep_only_the_units_asked_for(tmp_path: Path) -> None:
    tokenizer = LexicalTokenizer("en")
    first, second = postings_of(TEXTS[:4], tokenizer), postings_of(TEXTS[4:], tokenizer)
    builder = PostingsBuilder()
    builder.extend(first, np.array([0, 2]))
    builder.extend(second, np.array([1, 3]))
    merged = builder.finish()
    kept = [TEXTS[0], TEXTS[2], TEXTS[5], TEXTS[7]]
    direct = postings_of(kept, tokenizer)
    query = BM25([merged], tokenizer, k1=0.9, b=0.4), BM25([direct], tokenizer, k1=0.9, b=0.4)
    for words in ("pears", "comet", "apples moons"):
        assert query[0].scores(words).tolist() == query[1].scores(words).tolist()
    assert merged.lengths.tolist() == direct.lengths.tolist()


def test_top_units_rank_by_score_then_id_and_skip_zero_scores() -> None:
    scores = np.array([0.5, 2.0, 0.0, 2.0, 1.0], dtype=np.float32)
    values, ids = top_units(scores, 3, np.array([10, 40, 20, 30, 50]))
    assert ids.tolist() == [30, 40, 50] and values.tolist() == [2.0, 2.0, 1.0]
    assert top_units(np.zeros(3, dtype=np.float32), 2, np.arange(3))[1].tolist() == []
    assert top_units(scores, 10, np.arange(5))[1].tolist() == [1, 3, 4, 0]


def test_words_of_a_script_with_one_language_are_stemmed_for_it_whatever_the_setting() -> None:
    english = LexicalTokenizer("en")
    assert english("πίνει αφηγητής") == english("πίνω αφηγητή") == ["πιν", "αφηγητ"]
    assert english("остеопорозом") == english("остеопороза") == ["остеопороз"]
    assert english("The files") == ["file"]  # Latin words keep the configured language's stemmer
    assert LexicalTokenizer("en", stem=False)("πίνει files") == ["πίνει", "files"]


def test_passages_are_found_by_words_of_their_heading_path_and_their_tables_header(
    tmp_path: Path, standin_settings, standin_embedder
) -> None:
    """BM25 reads each passage with the context the model embeds with it: a question naming a section or a table's
    column matches every passage under it, not only the first (which holds the heading line itself)."""
    filler = " ".join(f"Sentence {n} talks about ordinary matters of the day." for n in range(40))
    rows = "\n".join(f"| app{n} | {n + 10} MB | {n} MB |" for n in range(60))
    text = (
        f"# Release notes\n\n## Deflate compression levels\n\n{filler}\n\n## Sizes\n\n"
        f"| Application | Original weight | Patchsize |\n|---|---|---|\n{rows}\n"
    )
    write_bytes(tmp_path / "docs" / "notes.md", text.encode())
    counts = {}
    for titles in (True, False):
        settings = standin_settings.model_copy(update={"bm25_titles": titles})
        report = build_index(
            [tmp_path / "docs"], settings, index_dir=tmp_path / f"idx-{titles}", embedder=standin_embedder
        )
        with open_index(report.index_dir, settings) as index:
            chunks = index.store.chunks(index.store.chunk_doc_ids())
            under = {  # the section's passages; the table's pieces (not the heading line before it)
                "deflate": {i for i, c in chunks.items() if c.section == "Release notes > Deflate compression levels"},
                "patchsize": {i for i, c in chunks.items() if c.text.startswith("| ")},
            }
            for word, expected in under.items():
                _, ids = index.lexical.search([word], 100)
                found = {int(i) for i in ids[0] if i >= 0}
                assert len(expected) >= 3 and found <= expected, (word, found, expected)
                counts[(word, titles)] = len(found)
                if titles:
                    assert found == expected
    assert counts[("deflate", False)] == counts[("patchsize", False)] == 1  # only the passage holding the words
