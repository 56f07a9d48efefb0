"""Extraction in a child process under a time limit: a file that never finishes or that kills its process is
reported and the next file is read by a fresh child; real files come out exactly as extracted in-process."""

from __future__ import annotations

import time
from pathlib import Path

from extractors_for_tests import crashes, echoes, never_ends
from journal_pdf import make_journal_pdf

from rag.ingest.loading import load_corpus
from rag.ingest.reading import LoadLimits
from rag.ingest.worker import ExtractionWorker


def test_a_file_that_never_finishes_is_stopped_at_the_limit_and_the_next_one_is_read(tmp_path: Path) -> None:
    stuck = ExtractionWorker(never_ends)
    try:
        started = time.perf_counter()
        [report] = stuck.run(tmp_path / "loop.pdf", b"%PDF", LoadLimits(), seconds=0.5)
        assert time.perf_counter() - started < 30
        assert report.reason == "extraction took longer than 0.5 s (RAG_MAX_EXTRACT_SECONDS): stopped"
        assert report.source.endswith("loop.pdf") and report.doc_id  # a previous version stays indexed
    finally:
        stuck.close()
    worker = ExtractionWorker(echoes)
    try:
        [document] = worker.run(tmp_path / "a.html", b"first", LoadLimits(), seconds=30)
        assert document.text == "first"
        [document] = worker.run(tmp_path / "b.html", b"second", LoadLimits(), seconds=30)  # the same child again
        assert document.text == "second"
    finally:
        worker.close()


def test_a_file_that_kills_the_extractor_is_reported_and_a_fresh_child_reads_on(tmp_path: Path) -> None:
    worker = ExtractionWorker(crashes)
    try:
        [report] = worker.run(tmp_path / "bad.docx", b"PK", LoadLimits(), seconds=30)
        assert report.reason == "the extractor stopped while reading this file (exit code 7)"
        worker.extract = echoes  # the next child runs a working extractor
        [document] = worker.run(tmp_path / "good.html", b"fine", LoadLimits(), seconds=30)
        assert document.text == "fine"
    finally:
        worker.close()


def test_files_extracted_in_the_child_are_the_files_extracted_in_process(tmp_path: Path) -> None:
    make_journal_pdf(tmp_path / "docs" / "paper.pdf")
    (tmp_path / "docs" / "page.html").write_text(
        "<html><head><title>T</title></head><body><main><h1>Tide tables</h1><p>High water at Orrin is at six "
        "in the morning.</p></main></body></html>",
        encoding="utf-8",
    )
    in_child = load_corpus([tmp_path / "docs"], LoadLimits(max_extract_seconds=60))
    in_process = load_corpus([tmp_path / "docs"], LoadLimits(max_extract_seconds=0))
    assert [d.source for d in in_child.documents] == [d.source for d in in_process.documents]
    assert in_child.documents == in_process.documents
    assert len(in_child.documents) == 2
