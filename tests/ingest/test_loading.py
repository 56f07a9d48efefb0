from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, write_bytes

from rag.ingest.decoding import UndecodableFileError, decode_bytes, parse_date_header
from rag.ingest.loading import load_corpus

LATIN1_TEXT = "Le café de la gare était fermé. Les élèves attendaient à côté du théâtre, déçus. " * 4


def test_utf8_with_and_without_bom_records_encoding(tmp_path: Path) -> None:
    write_bytes(tmp_path / "plain.txt", "naïve text\r\nline two".encode())
    write_bytes(tmp_path / "bom.txt", b"\xef\xbb\xbf" + b"with bom")
    docs = {Path(d.source).name: d for d in load_corpus([tmp_path]).documents}
    assert docs["plain.txt"].encoding == "utf-8"
    assert docs["plain.txt"].text == "naïve text\r\nline two"  # no newline translation
    assert docs["bom.txt"].encoding == "utf-8-sig"
    assert docs["bom.txt"].text == "with bom"


def test_legacy_encoding_is_detected_and_recorded(tmp_path: Path) -> None:
    raw = LATIN1_TEXT.encode("cp1252")
    write_bytes(tmp_path / "latin.txt", raw)
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.encoding.lower().replace("_", "-") in {"cp1252", "windows-1252", "latin-1", "iso-8859-1", "iso8859-1"}
    assert doc.text == LATIN1_TEXT
    assert raw.decode(doc.encoding) == doc.text


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_loaded(tmp_path: Path) -> None:
    write_bytes(tmp_path / "good.md", b"# Title\n\nGood text here.")
    write_bytes(tmp_path / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write_bytes(tmp_path / "broken.txt", "Déjà vu: naïve café, crème brûlée. ".encode() * 3 + b"broken \xc3(")
    write_bytes(tmp_path / "empty.txt", b"")
    write_bytes(tmp_path / "blank.txt", b"   \n\n  ")
    corpus = load_corpus([tmp_path])
    assert [Path(d.source).name for d in corpus.documents] == ["good.md"]
    reasons = {Path(s.source).name: s.reason for s in corpus.skipped}
    assert set(reasons) == {"binary.txt", "broken.txt", "empty.txt", "blank.txt"}
    assert "binary" in reasons["binary.txt"]
    assert "invalid UTF-8 at byte" in reasons["broken.txt"]
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["blank.txt"]


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, как дела? Это тестовый текст на русском языке. " * 3, "cp1251"),
        ("这是一个中文测试文本，用于检测编码是否正确。" * 3, "gb18030"),
        ("Zażółć gęślą jaźń, to jest polski tekst testowy. " * 3, "cp1250"),
    ],
)
def test_other_legacy_encodings_round_trip(text: str, encoding: str) -> None:
    decoded, used = decode_bytes(text.encode(encoding))
    assert decoded == text
    assert text.encode(encoding).decode(used) == decoded


def test_decode_refuses_random_bytes() -> None:
    import random

    rng = random.Random(7)
    noise = bytes(rng.randrange(1, 256) for _ in range(4000))
    with pytest.raises(UndecodableFileError, match=r"not text|invalid UTF-8"):
        decode_bytes(noise)


def test_walk_is_recursive_sorted_and_skips_hidden_and_other_types(tmp_path: Path) -> None:
    write_bytes(tmp_path / "b.txt", b"b text")
    write_bytes(tmp_path / "a" / "deep" / "c.md", b"c text")
    write_bytes(tmp_path / ".hidden.txt", b"hidden")
    write_bytes(tmp_path / ".git" / "notes.txt", b"hidden folder")
    write_bytes(tmp_path / "image.png", b"\x89PNG")
    write_bytes(tmp_path / "a" / "slides.pptx", b"PK")
    write_bytes(tmp_path / "a" / "deep" / "diagram.PNG", b"\x89PNG")
    write_bytes(tmp_path / "a" / "LICENSE", b"no ending")
    corpus = load_corpus([tmp_path])
    names = [Path(d.source).relative_to(tmp_path).as_posix() for d in corpus.documents]
    assert names == ["b.txt", "a/deep/c.md"]  # a folder's own files first, then its subfolders, each sorted
    [other_types] = corpus.skipped  # hidden files are not counted; other types, once for the folder
    assert Path(other_types.source) == tmp_path
    assert other_types.reason.startswith(
        "4 file(s) of types rag does not read were not indexed (.png 2, (no ending) 1, .pptx 1); it reads .docx,"
    )


def test_date_header_parsed_without_touching_text() -> None:
    assert parse_date_header(" date 2023-11-04 Azerbaijan, November 4.") == ("2023-11-04", 17)
    assert parse_date_header("date 2024-02-29\nBody") == ("2024-02-29", 16)
    assert parse_date_header("date 2023-13-40 not a date") == (None, 0)
    assert parse_date_header("Body first. date 2023-11-04") == (None, 0)


def test_seed_files_have_dates_except_one() -> None:
    docs = load_corpus([SEEDS]).documents
    assert len(docs) == 5
    dates = {Path(d.source).name: d.date for d in docs}
    assert dates["000_b8082ebd9852ee3d.txt"] == "2023-11-04"
    assert sum(1 for d in dates.values() if d) == 4
    for doc in docs:
        assert doc.text == Path(doc.source).read_bytes().decode(doc.encoding)
        assert not doc.text[doc.body_start :].startswith(("date", " date"))


def test_beir_jsonl_corpus(tmp_path: Path) -> None:
    lines = [
        {"_id": "d1", "title": "First", "text": "Alpha beta."},
        {"_id": 2, "title": "", "text": "Gamma delta."},
        {"_id": "d3", "title": "No text", "text": ""},
    ]
    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n", encoding="utf-8")
    corpus = load_corpus([corpus_file])
    assert [(d.doc_id, d.title, d.text) for d in corpus.documents] == [
        ("d1", "First", "Alpha beta."),
        ("2", None, "Gamma delta."),
    ]
    assert corpus.documents[0].source == f"{corpus_file}#d1"
    assert len(corpus.skipped) == 2


def test_duplicate_ids_and_missing_paths_are_reported(tmp_path: Path) -> None:
    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_text('{"_id": "x", "text": "one"}\n{"_id": "x", "text": "two"}\n', encoding="utf-8")
    corpus = load_corpus([corpus_file, tmp_path / "nope"])
    assert [d.text for d in corpus.documents] == ["one"]
    reasons = [s.reason for s in corpus.skipped]
    assert any("duplicate document id" in r for r in reasons)
    assert any("no such file" in r for r in reasons)


def test_a_jsonl_document_past_the_character_limit_is_cut_and_reported(tmp_path: Path) -> None:
    from rag.ingest.reading import LoadLimits

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"_id": "long", "text": "x" * 150}) + "\n", encoding="utf-8")
    loaded = load_corpus([corpus], LoadLimits(max_extracted_chars=100))
    assert [len(d.text) for d in loaded.documents] == [100]
    assert [(s.source, s.reason) for s in loaded.skipped] == [
        (
            f"{corpus}#long",
            "text cut at 100 characters (RAG_MAX_EXTRACTED_CHARS); the rest, 50 characters, was not indexed",
        )
    ]
