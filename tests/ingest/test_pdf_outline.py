"""A PDF's outline (bookmarks) gives its sections: passages are cited under the heading path, as web pages and Word
files are. PDFs are generated here with fpdf2, whose ``start_section`` writes an outline entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest.formats.pdf_outline import OutlineEntry, _repaired, heading_offsets
from rag.ingest.loading import load_corpus
from rag.types import Document

SENTENCE = "The keepers of the northern light logged {} storms and {} repairs in the season."


def _paper(path: Path, *, outline: bool = True) -> Path:
    """Three pages: the paper's title and abstract (which names the introduction), "1. Introduction", "2. Methods"
    with "2.1 Tide gauges" below it, and a "Notes" bookmark whose title the page does not show."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)

    def heading(text: str, bookmark: str, level: int) -> None:
        if outline:
            pdf.start_section(bookmark, level=level)
        pdf.set_font("Helvetica", style="B", size=14)
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)

    def paragraph(seed: int) -> None:
        pdf.multi_cell(0, 6, " ".join(SENTENCE.format(seed + i, 2 * seed + i) for i in range(5)), new_x="LMARGIN",
                       new_y="NEXT")  # fmt: skip

    pdf.add_page()
    heading("Lighthouse Records of the North Coast", "Lighthouse Records of the North Coast", 0)
    pdf.multi_cell(0, 6, "Abstract. Our introduction sets out why the records matter.", new_x="LMARGIN", new_y="NEXT")
    heading("1. Introduction", "Introduction", 1)
    paragraph(1)
    pdf.add_page()
    heading("2. Methods", "Methods", 1)
    paragraph(10)
    heading("2.1 Tide gauges", "Tide gauges", 2)
    paragraph(20)
    pdf.add_page()
    if outline:
        pdf.start_section("Notes for the editor", level=1)  # no such heading on the page
    paragraph(30)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(pdf.output()))
    return path


def _load(path: Path) -> Document:
    [document] = load_corpus([path.parent]).documents
    return document


def _path_at(document: Document, text: str) -> str | None:
    at = document.text.index(text)
    return next((s.path for s in document.sections if s.start <= at < s.end), None)


def test_bookmarks_give_pdf_passages_their_heading_paths(tmp_path: Path) -> None:
    document = _load(_paper(tmp_path / "docs" / "records.pdf"))
    title = "Lighthouse Records of the North Coast"
    assert _path_at(document, "Abstract. Our introduction") == title
    assert _path_at(document, SENTENCE.format(1, 2)) == f"{title} > Introduction"
    assert _path_at(document, SENTENCE.format(10, 20)) == f"{title} > Methods"
    assert _path_at(document, SENTENCE.format(20, 40)) == f"{title} > Methods > Tide gauges"
    assert _path_at(document, SENTENCE.format(30, 60)) == f"{title} > Methods > Tide gauges"  # "Notes" not shown
    introduction = next(s for s in document.sections if s.path.endswith("Introduction"))
    assert document.text[introduction.start :].startswith("1. Introduction\n")  # its number is in its section


def test_a_pdf_without_an_outline_has_no_sections(tmp_path: Path) -> None:
    document = _load(_paper(tmp_path / "docs" / "records.pdf", outline=False))
    assert document.sections == ()


def test_headings_are_found_without_case_spacing_or_accents_and_in_order() -> None:
    page = "Abstract\nThe Wstęp section explains.\n1. Wstęp\nText.\nA. Methods used\nMore text about methods.\n"
    entries = [OutlineEntry(0, "WSTEP"), OutlineEntry(0, "Methods used"), OutlineEntry(0, "Missing")]
    offsets = heading_offsets(page, entries)
    assert offsets[2] is None
    assert page[offsets[0] :].startswith("1. Wstęp\n") and page[offsets[1] :].startswith("A. Methods used\n")


@pytest.mark.parametrize(
    ("stored", "title"),
    [
        ("Ð£Ð²Ð¾Ð´", "Увод"),  # UTF-8 bytes in a PDFDocEncoding string
        ("Ð£Ñ\u2022Ð¾Ðº", "Урок"),  # the same, with a byte PDFDocEncoding reads otherwise than Latin-1 (0x80: •)
        ("Café", "Café"),  # real Latin-1
        ("Предисловие", "Предисловие"),  # real Unicode
    ],
)
def test_a_bookmark_title_stored_as_utf8_bytes_is_read_as_utf8(stored: str, title: str) -> None:
    assert _repaired(stored) == title
