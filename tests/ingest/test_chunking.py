"""Chunking with the real model's tokenizer (the stand-in model shares it, and its 256-token limit): exact spans,
token limits, sentence boundaries, overlap."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import SEEDS

from rag.ingest.chunking import Chunker
from rag.ingest.loading import load_corpus
from rag.language import LanguageCheck
from rag.types import Document, Section


def make_doc(text: str, *, title: str | None = None, body_start: int = 0) -> Document:
    return Document(
        doc_id="d", source="/x/d.txt", text=text, encoding="utf-8", sha256="0", title=title, body_start=body_start
    )


@pytest.fixture(scope="module")
def tokenizer(standin_embedder):
    return standin_embedder.tokenizer


def full_length(tokenizer, text: str) -> int:
    """Tokens the model would see for ``text`` (with special tokens)."""
    return len(tokenizer(text, verbose=False)["input_ids"])


def random_text(seed: int, sentences: int = 60) -> str:
    rng = random.Random(seed)
    words = "alpha beta gamma delta Ünïcode naïve 2023-11-04 Dr. Smith 12.5% mitochondria phosphorylation".split()
    out = []
    for _ in range(sentences):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(3, 40)))
        out.append(
            sentence.capitalize() + rng.choice([".", "!", "?", "."]) + rng.choice([" ", "  ", "\n", "\n\n", "\r\n"])
        )
    return "".join(out)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("size", "overlap"), [(32, 8), (128, 32), (254, 0)])
def test_spans_are_exact_and_within_the_model_limit(
    standin_embedder, tokenizer, seed: int, size: int, overlap: int
) -> None:
    embedder = standin_embedder
    text = random_text(seed)
    chunker = Chunker(tokenizer, chunk_tokens=size, overlap_tokens=overlap, max_tokens=embedder.max_content_tokens)
    chunks = chunker.chunk(make_doc(text))
    assert chunks
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert full_length(tokenizer, chunk.text) <= embedder.max_seq_length
        assert chunk.n_tokens <= size
        assert chunk.line_start == text.count("\n", 0, chunk.start) + 1
        assert chunk.line_end == text.count("\n", 0, chunk.end) + 1
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace()), "text left out of every chunk"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(a.start < b.start for a, b in pairwise(chunks))


def test_chunks_end_at_sentence_boundaries(tokenizer) -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i} in some detail here." for i in range(40))
    chunks = Chunker(tokenizer, chunk_tokens=48, overlap_tokens=0, max_tokens=254).chunk(make_doc(text))
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.startswith("Sentence number") and chunk.text.endswith("detail here.")


def test_overlap_repeats_whole_trailing_sentences(tokenizer) -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(30))
    chunks = Chunker(tokenizer, chunk_tokens=30, overlap_tokens=10, max_tokens=254).chunk(make_doc(text))
    for previous, current in pairwise(chunks):
        assert current.start < previous.end, "consecutive chunks should share a sentence"
        assert previous.text.endswith(text[current.start : previous.end])
        assert current.end > previous.end, "a chunk must add text beyond its overlap"


def test_over_long_sentence_is_cut_at_clause_marks_then_tokens(tokenizer) -> None:
    clause = "the committee reviewed the evidence carefully, "
    text = "Start. " + clause * 40 + "and then it ended. Next sentence."
    chunker = Chunker(tokenizer, chunk_tokens=40, overlap_tokens=0, max_tokens=254)
    chunks = chunker.chunk(make_doc(text))
    middle = [c for c in chunks if "committee" in c.text]
    assert len(middle) > 3
    assert all(c.n_tokens <= 40 for c in chunks)
    assert all(c.text.endswith(",") for c in middle[:-1])  # cut after a comma, not mid-clause
    no_marks = "Start. " + "word " * 300 + "end."
    pieces = chunker.chunk(make_doc(no_marks))
    assert all(p.n_tokens <= 40 for p in pieces)
    assert all(no_marks[p.start : p.end] == p.text for p in pieces)


def test_body_start_excludes_header_and_title_is_context_only(tokenizer) -> None:
    text = " date 2023-11-04 Body sentence one. Body sentence two."
    doc = make_doc(text, title="A Title", body_start=17)
    (chunk,) = Chunker(tokenizer, chunk_tokens=64, overlap_tokens=0, max_tokens=254).chunk(doc)
    assert chunk.start == 17 and chunk.text == "Body sentence one. Body sentence two."
    assert chunk.context == "A Title"
    assert chunk.embed_text == "A Title\nBody sentence one. Body sentence two."
    plain = Chunker(tokenizer, chunk_tokens=64, overlap_tokens=0, max_tokens=254, embed_titles=False).chunk(doc)
    assert plain[0].context is None and plain[0].embed_text == plain[0].text
    text = "Release notes\n\nWhat changed.\n\nSizes\n\nSmaller updates."
    headed = make_doc(text, title="Release notes")
    headed = replace(
        headed, sections=[Section(0, 29, "Release notes"), Section(29, len(text), "Release notes > Sizes")]
    )
    first, second = Chunker(tokenizer, chunk_tokens=64, overlap_tokens=0, max_tokens=254).chunk(headed)
    assert first.context == "Release notes"  # the title that is also the root heading, once
    assert second.context == "Release notes\nRelease notes > Sizes"


def test_non_english_text_is_chunked(tokenizer) -> None:
    text = "这是第一句话。这是第二句话！Das ist ein deutscher Satz. Noch ein Satz über Äpfel."
    chunks = Chunker(tokenizer, chunk_tokens=8, overlap_tokens=0, max_tokens=254, language="de").chunk(make_doc(text))
    assert len(chunks) >= 2
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_a_table_set_line_by_line_fills_the_passage_before_it_and_keeps_its_rows_whole(tokenizer) -> None:
    """Text extracted from a PDF table or list runs for many lines without a stop, so the sentence splitter sees
    one over-long sentence. Its lines are packed like sentences: the first rows join the sentence that introduces
    them, and no row is cut between two passages."""
    rng = random.Random(7)
    names = "active clients|open files|cached names|exclusive locks|stored directories|mirrored configs".split("|")
    rows = [f"{rng.choice(names)} in region {i} {rng.randrange(1, 999)}k" for i in range(30)]
    intro = "The following table gives statistics taken as a snapshot of one cell."
    text = intro + "\n" + "\n".join(rows) + "\nSeveral things can be seen in it."
    chunks = Chunker(tokenizer, chunk_tokens=48, overlap_tokens=0, max_tokens=254).chunk(make_doc(text))
    assert chunks[0].text.startswith(intro) and rows[0] in chunks[0].text
    assert all(any(row in chunk.text for chunk in chunks) for row in rows)
    assert all(chunk.n_tokens <= 48 and text[chunk.start : chunk.end] == chunk.text for chunk in chunks)
    assert sum(chunk.n_tokens for chunk in chunks) > 0.8 * 48 * (len(chunks) - 1)  # passages filled, not fragments


GREEK = (
    "Το χωριό βρίσκεται στους πρόποδες του βουνού, κοντά σε ένα μικρό ποτάμι με κρύο νερό. "
    "Κάθε Σάββατο οι αγρότες φέρνουν στην πλατεία ντομάτες, ελιές, μέλι και φρέσκο τυρί. "
    "Η παλιά εκκλησία του Αγίου Νικολάου χτίστηκε τον δέκατο όγδοο αιώνα από ντόπιους μαστόρους. "
    "Τον χειμώνα ο δρόμος προς την πόλη κλείνει συχνά από το χιόνι για αρκετές μέρες. "
    "Στο καφενείο οι ηλικιωμένοι παίζουν τάβλι και συζητούν για τον καιρό και την πολιτική. "
    "Το σχολείο έχει μόνο δύο αίθουσες και δεκαπέντε μαθητές από τα γύρω χωριά. "
    "Τον Αύγουστο γίνεται μεγάλο πανηγύρι με μουσική, χορό και ψητό αρνί μέχρι το πρωί. "
    "Οι επισκέπτες μπορούν να περπατήσουν στο μονοπάτι που οδηγεί στον καταρράκτη. "
    "Ο φούρνος ανοίγει πριν από την ανατολή και το ψωμί τελειώνει πάντα πριν από το μεσημέρι. "
    "Πολλοί νέοι έφυγαν για την Αθήνα, αλλά κάποιοι επέστρεψαν για να καλλιεργήσουν τη γη."
)
ENGLISH = (
    "The village lies at the foot of the mountain, near a small river with cold water. "
    "Every Saturday the farmers bring tomatoes, olives, honey and fresh cheese to the square. "
    "The old church of Saint Nicholas was built in the eighteenth century by local masons. "
    "In winter the road to the town is often closed by snow for several days. "
    "In the coffee house the old men play backgammon and talk about the weather and politics. "
    "The school has only two classrooms and fifteen pupils from the villages around. "
    "In August there is a big fair with music, dancing and roast lamb until the morning. "
    "Visitors can walk along the path that leads to the waterfall. "
    "The bakery opens before sunrise and the bread is always gone before noon. "
    "Many young people left for Athens, but some came back to farm the land."
)


def test_a_document_in_a_language_the_model_does_not_read_gets_passages_of_as_many_words(tokenizer) -> None:
    """The English tokenizer cuts Greek words into three or four pieces: passages sized in its tokens would hold a
    quarter of the words an English passage holds. With the model's languages known, a Greek document's passages
    hold about as many words as the same text's in English, and an English document is cut as before."""

    def words(chunks) -> float:
        return statistics.mean(len(chunk.text.split()) for chunk in chunks)

    greek, english = make_doc(GREEK), make_doc(ENGLISH)
    by_tokens = Chunker(tokenizer, chunk_tokens=48, overlap_tokens=12, max_tokens=254)
    by_words = Chunker(tokenizer, chunk_tokens=48, overlap_tokens=12, max_tokens=254, languages=LanguageCheck(["en"]))
    assert by_words.chunk(english) == by_tokens.chunk(english)
    assert by_words.passage_size(english) == (48, 12)
    english_words = words(by_tokens.chunk(english))
    assert words(by_tokens.chunk(greek)) < 0.4 * english_words  # sentence fragments
    size, overlap = by_words.passage_size(greek)
    assert 2 * 48 < size < 254 and overlap == 12 * size // 48
    passages = by_words.chunk(greek)
    assert 0.8 * english_words < words(passages) < 1.25 * english_words
    assert all(greek.text[c.start : c.end] == c.text and c.n_tokens <= size for c in passages)
    # A Greek model reads Greek: its passages are sized in its tokens. And no passage outgrows the model's limit.
    assert Chunker(
        tokenizer, chunk_tokens=48, overlap_tokens=12, max_tokens=254, languages=LanguageCheck(["el"])
    ).passage_size(greek) == (48, 12)
    capped = Chunker(tokenizer, chunk_tokens=96, overlap_tokens=24, max_tokens=120, languages=LanguageCheck(["en"]))
    assert capped.passage_size(greek) == (120, 30)


def test_seed_corpus_chunks(standin_embedder, standin_settings) -> None:
    embedder, settings = standin_embedder, standin_settings
    chunker = Chunker(
        embedder.tokenizer,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_tokens=embedder.max_content_tokens,
    )
    for doc in load_corpus([SEEDS]).documents:
        chunks = chunker.chunk(doc)
        assert chunks[0].start >= doc.body_start
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert Path(doc.source).read_bytes().decode(doc.encoding)[chunk.start : chunk.end] == chunk.text


def test_invalid_settings_are_refused(tokenizer) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        Chunker(tokenizer, chunk_tokens=32, overlap_tokens=32, max_tokens=254)


def test_a_file_on_one_line_reaches_the_tokenizer_in_bounded_pieces(tokenizer) -> None:
    """A text with no sentence end and no line break is handed to the tokenizer at most ``MAX_PIECE_CHARS`` at a
    time, and still chunked exactly within the model limit."""
    from rag.ingest.chunking import MAX_PIECE_CHARS

    rng = random.Random(3)
    text = " ".join(f"word{rng.randrange(10_000)}" for _ in range(30_000))
    longest = 0

    def counting(texts, **kwargs):
        nonlocal longest
        longest = max(longest, *(len(t) for t in texts))
        return tokenizer(texts, **kwargs)

    chunker = Chunker(counting, chunk_tokens=96, overlap_tokens=24, max_tokens=254)
    chunks = chunker.chunk(make_doc(text))
    assert 0 < longest <= MAX_PIECE_CHARS < len(text)
    assert all(text[c.start : c.end] == c.text and c.n_tokens <= 96 for c in chunks)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.parametrize("seed", range(3))
def test_cut_points_match_the_plain_rule(seed: int) -> None:
    """``_cuttable`` looks back from the cut instead of copying the sentence; it must agree with the plain rule
    (the text before the cut, closers stripped, ends with a mark) everywhere."""
    from rag.ingest.chunking import _CLOSERS, _CUT_STRENGTHS, _cuttable

    rng = random.Random(seed)
    pieces = ["word", "Dr.", "end.", "(a)", "'quote.'", '"x;"', "y,", "z:", "»ok!«", ")", "..."]
    sentence = " ".join(rng.choice(pieces) for _ in range(300))
    offsets, position = [], 0
    for token in sentence.split(" "):
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    for marks in _CUT_STRENGTHS:
        for i in range(1, len(offsets)):
            plain = offsets[i][0] > offsets[i - 1][1] and (
                not marks or sentence[: offsets[i - 1][1]].rstrip(_CLOSERS)[-1:] in marks
            )
            assert _cuttable(sentence, offsets, i, marks) == plain, (marks, i)


def test_the_standin_model_counts_tokens_as_the_real_model_does(standin_embedder) -> None:
    """The fast tests chunk with the stand-in model's tokenizer: it must be the real model's, with the same limit."""
    from transformers import AutoTokenizer

    from rag.embedding import resolve_model_path
    from rag.settings import DEFAULT_MODEL

    real = AutoTokenizer.from_pretrained(resolve_model_path(DEFAULT_MODEL))
    texts = [random_text(seed, sentences=20) for seed in range(3)] + ["这是第一句话。Ünïcode naïve café, 12.5%!"]
    assert standin_embedder.tokenizer(texts)["input_ids"] == real(texts)["input_ids"]
    assert (standin_embedder.max_seq_length, standin_embedder.max_content_tokens) == (256, 254)
