"""The managed folder: documents added and removed through the library calls behind POST and DELETE /documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sync import write_corpus

from rag.errors import (
    DocumentNotFoundError,
    FileTooLargeError,
    InvalidInputError,
    NotUploadedError,
    UnsupportedFileTypeError,
)
from rag.index.build import build_index
from rag.index.reader import open_index
from rag.index.uploads import UploadedFile, add_documents, check_upload, managed_folder, remove_document
from rag.ingest.reading import file_doc_id


def indexed(index_dir: Path, settings) -> dict[str, tuple[str, str]]:
    """Every live document: id -> (file name, text)."""
    index = open_index(index_dir, settings)
    try:
        return {d.doc_id: (Path(d.source).name, index.store.document_text(d.doc_id)) for d in index.store.documents()}
    finally:
        index.close()


@pytest.fixture
def notes_index(tmp_path: Path, standin_settings, standin_embedder) -> Path:
    write_corpus(tmp_path / "notes", 4)
    build_index([tmp_path / "notes"], standin_settings, index_dir=tmp_path / "idx", embedder=standin_embedder)
    return tmp_path / "idx"


def test_add_update_and_remove_uploaded_documents(notes_index: Path, standin_settings, standin_embedder) -> None:
    settings, embedder = standin_settings, standin_embedder
    before = indexed(notes_index, settings)
    change = add_documents(
        notes_index,
        [
            UploadedFile("memo.md", b"# Memo\n\nThe kestrel hovers over the quarry.\n"),
            UploadedFile("b.txt", b"Bees.\n"),
        ],
        settings,
        embedder=embedder,
    )
    assert [(o.name, o.status) for o in change.outcomes] == [("memo.md", "added"), ("b.txt", "added")]
    memo_id = change.outcomes[0].doc_id
    assert memo_id == file_doc_id(managed_folder(notes_index) / "memo.md", managed_folder(notes_index))
    after = indexed(notes_index, settings)
    assert {k: v for k, v in after.items() if k in before} == before  # the folder's documents are untouched
    assert "kestrel hovers" in after[memo_id][1]
    assert change.report.documents == len(before) + 2

    same = add_documents(notes_index, [UploadedFile("memo.md", (managed_folder(notes_index) / "memo.md").read_bytes())],
                         settings, embedder=embedder)  # fmt: skip
    assert same.outcomes[0].status == "unchanged" and not same.report.changed
    changed = add_documents(notes_index, [UploadedFile("memo.md", b"# Memo\n\nThe heron waits by the weir.\n")],
                            settings, embedder=embedder)  # fmt: skip
    assert (changed.outcomes[0].doc_id, changed.outcomes[0].status) == (memo_id, "updated")
    text = indexed(notes_index, settings)[memo_id][1]
    assert "heron waits" in text and "kestrel" not in text

    # rag index of the original folder keeps the uploads: the managed folder is synced with it
    report = build_index([notes_index.parent / "notes"], settings, index_dir=notes_index, embedder=embedder)
    assert memo_id in indexed(notes_index, settings) and report.removed == 0

    removed = remove_document(notes_index, memo_id, settings, embedder=embedder)
    assert removed.outcomes[0].status == "removed"
    assert not (managed_folder(notes_index) / "memo.md").exists()
    assert memo_id not in indexed(notes_index, settings)
    last = remove_document(notes_index, change.outcomes[1].doc_id, settings, embedder=embedder)  # the last upload
    assert indexed(notes_index, settings) == before and last.report.documents == len(before)
    assert list(managed_folder(notes_index).iterdir()) == []


def test_a_file_the_indexer_skips_is_taken_back_and_its_previous_version_kept(
    notes_index: Path, standin_settings, standin_embedder
) -> None:
    settings, embedder = standin_settings, standin_embedder
    first = add_documents(notes_index, [UploadedFile("paper.pdf", _tiny_pdf("Ospreys dive feet first."))],
                          settings, embedder=embedder)  # fmt: skip
    assert first.outcomes[0].status == "added", first.outcomes
    paper_id = first.outcomes[0].doc_id
    good = (managed_folder(notes_index) / "paper.pdf").read_bytes()
    broken = add_documents(
        notes_index,
        [UploadedFile("paper.pdf", b"%PDF-1.4 this is not a pdf"), UploadedFile("junk.pdf", b"\x00\xff" * 50)],
        settings,
        embedder=embedder,
    )
    assert [o.status for o in broken.outcomes] == ["skipped", "skipped"]
    assert all(o.reason for o in broken.outcomes)
    assert (managed_folder(notes_index) / "paper.pdf").read_bytes() == good  # the previous version is back
    assert not (managed_folder(notes_index) / "junk.pdf").exists()
    assert "Ospreys dive" in indexed(notes_index, settings)[paper_id][1]


def test_a_file_indexed_with_a_part_left_out_is_added_not_taken_back(
    notes_index: Path, standin_settings, standin_embedder
) -> None:
    """A report about part of a file (text past the size limit, a page's undecodable bytes) is not a refusal: the
    upload stays, indexed, and is not reported as skipped."""
    settings = standin_settings.model_copy(update={"max_extracted_chars": 60})
    page = "<html><head><meta charset='utf-8'></head><body><p>Café Grünwald opens at nine; crème brûlée, " + "tea " * 40
    damaged = page.encode().replace("Grünwald".encode(), b"Gr\xfcnwald")  # one Latin-1 byte in a UTF-8 page
    files = [UploadedFile("long.txt", b"The ferry to Skarv leaves at noon. " * 10), UploadedFile("cafe.html", damaged)]
    change = add_documents(notes_index, files, settings, embedder=standin_embedder)
    assert [(o.name, o.status) for o in change.outcomes] == [("long.txt", "added"), ("cafe.html", "added")]
    reasons = sorted((Path(s.source).name, s.reason[:30]) for s in change.report.skipped)
    assert reasons == [
        ("cafe.html", "declares charset utf-8 but 1 b"),
        ("cafe.html", "text cut at 60 characters (RAG"),
        ("long.txt", "text cut at 60 characters (RAG"),
    ]
    texts = {name: text for name, text in indexed(notes_index, settings).values()}
    assert texts["long.txt"].startswith("The ferry to Skarv") and texts["cafe.html"].startswith("Café Gr\ufffdnwald")
    assert (managed_folder(notes_index) / "cafe.html").exists() and (managed_folder(notes_index) / "long.txt").exists()


def test_only_uploaded_documents_can_be_removed(notes_index: Path, standin_settings, standin_embedder) -> None:
    folder_doc = next(iter(indexed(notes_index, standin_settings)))
    with pytest.raises(NotUploadedError, match="not uploaded"):
        remove_document(notes_index, folder_doc, standin_settings, embedder=standin_embedder)
    with pytest.raises(DocumentNotFoundError):
        remove_document(notes_index, "0123456789abcdef", standin_settings, embedder=standin_embedder)
    assert folder_doc in indexed(notes_index, standin_settings)


@pytest.mark.parametrize(
    ("files", "error", "message"),
    [
        ([], InvalidInputError, "no file"),
        ([("../x.txt", 3)], InvalidInputError, "without folders"),
        ([("a/x.txt", 3)], InvalidInputError, "without folders"),
        ([(".env.txt", 3)], InvalidInputError, "hidden"),
        ([("..", 3)], InvalidInputError, "empty"),
        ([("x\x01.txt", 3)], InvalidInputError, "control characters"),
        ([("a.txt", 3), ("A.TXT", 3)], InvalidInputError, "twice"),
        ([(f"n{i}.txt", 1) for i in range(21)], InvalidInputError, "at most 20"),
        ([("tool.exe", 3)], UnsupportedFileTypeError, "'.exe' is not accepted"),
        ([("README", 3)], UnsupportedFileTypeError, r"type '\(none\)'"),
        ([("big.txt", 100_000_001)], FileTooLargeError, "RAG_MAX_FILE_BYTES"),
    ],
)
def test_uploads_are_refused_before_anything_is_written(files, error, message, standin_settings) -> None:
    with pytest.raises(error, match=message):
        check_upload(files, standin_settings)


def _tiny_pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())
