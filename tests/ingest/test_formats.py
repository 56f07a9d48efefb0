"""The documents people have: PDF (pages, labels, two columns, a table, a scanned page), HTML with boilerplate,
DOCX, Markdown with nested headings and tables; bad files of each kind. Fixtures are made here."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import run_rag, write_bytes

from rag.index.build import build_index
from rag.index.reader import open_index
from rag.ingest.loading import load_corpus
from rag.search.searcher import Searcher


def make_pdf(path: Path, *, scanned_page: bool = True, only_image: bool = False) -> Path:
    """Page 1 two columns, page 2 a table, page 3 an image only (scanned), page 4 plain text; labels i, ii, 1, 2."""
    from fpdf import FPDF
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    image = io.BytesIO()
    Image.new("RGB", (200, 120), (90, 90, 90)).save(image, format="PNG")
    if only_image:
        pdf.add_page()
        pdf.image(image, x=20, y=20, w=120)
    else:
        pdf.add_page()
        pdf.set_xy(10, 20)
        pdf.multi_cell(90, 6, "Left column. The otters of Lake Brienz hold their council meetings at dawn.")
        pdf.set_xy(110, 20)
        pdf.multi_cell(90, 6, "Right column. Copper kettles in Graz whistle in the key of F sharp.")
        pdf.add_page()
        pdf.multi_cell(0, 6, "Bridge census of the northern towns.")
        with pdf.table() as table:
            for row in (("Town", "Bridges"), ("Vennholm", "417"), ("Kastrup Vale", "12"), ("Orrin", "88")):
                cells = table.row()
                for value in row:
                    cells.cell(value)
        if scanned_page:
            pdf.add_page()
            pdf.image(image, x=20, y=20, w=120)
        pdf.add_page()
        pdf.multi_cell(0, 6, "Appendix. The lighthouse keeper of Skarv logs every passing ship in violet ink.")
    raw = io.BytesIO(pdf.output())
    writer = PdfWriter(clone_from=PdfReader(raw))
    if not only_image:
        writer.set_page_label(0, 1, style="/r")
        writer.set_page_label(2, len(writer.pages) - 1, style="/D")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Frobnicator guide</title><style>.x{color:red}</style>
<script>var tracking = "otters everywhere";</script></head><body>
<header><a href="/">Home</a> <a href="/about">About us</a></header>
<nav><ul><li>Products</li><li>Pricing for the frobnicator</li></ul></nav>
<main><h1>Frobnicator</h1><p>The frobnicator tidies drawers.</p>
<h2>Install</h2><h3>Linux</h3><p>Run the frobnicate installer with sudo, then reboot twice.</p>
<h3>Windows</h3><p>Double-click the MSI package.</p></main>
<footer>Copyright 2024 Frobnicator Inc. All rights reserved.</footer></body></html>"""


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Staff handbook"
    document.add_heading("Handbook", level=1)
    document.add_heading("Expenses", level=2)
    document.add_paragraph("Meals on business trips are reimbursed up to 42 euros per day.")
    table = document.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate((("Item", "Limit"), ("Hotel night", "130 euros"), ("Train ticket", "second class"))):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    document.add_heading("Holidays", level=2)
    document.add_paragraph("Everyone gets 28 days of leave a year.")
    document.save(str(path))
    return path


def markdown_text() -> str:
    rows = "\n".join(f"| station-{n:02d} | {n * 7} m | sensor model K{n % 5} |" for n in range(60))
    return (
        "# Field notes\n\nIntro paragraph about the survey.\n\n"
        "## Install\n\n### Linux\n\nUse the tarball and run make install.\n\n"
        "| OS | Package |\n|---|---|\n| Debian | frob.deb |\n| Fedora | frob.rpm |\n\n"
        "## Stations\n\nEvery station and its height.\n\n"
        f"| Station | Height | Sensor |\n|---|---|---|\n{rows}\n\n"
        "## Closing\n\nThe survey ended in October.\n"
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, standin_settings, standin_embedder) -> tuple[Path, object]:
    settings, embedder = standin_settings, standin_embedder
    root = tmp_path_factory.mktemp("mixed")
    docs = root / "docs"
    make_pdf(write_bytes(docs / "report.pdf", b""))
    write_bytes(docs / "guide.html", HTML.encode())
    make_docx(docs / "handbook.docx")
    write_bytes(docs / "notes.md", markdown_text().encode())
    # bad files of each kind
    good = (docs / "report.pdf").read_bytes()
    write_bytes(docs / "bad" / "truncated.pdf", good[: len(good) // 3])
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(docs / "report.pdf"))
    writer.encrypt("secret")
    with (docs / "bad" / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    make_pdf(write_bytes(docs / "bad" / "scan.pdf", b""), only_image=True)
    write_bytes(docs / "bad" / "empty.docx", b"")
    damaged = (
        HTML.replace("tidies drawers", "tidies drawers in the café, crème brûlée")
        .encode()
        .replace(b"tidies", b"tid\xffies")
    )
    write_bytes(docs / "bad" / "broken.html", damaged)
    report = build_index([docs], settings, index_dir=root / "idx", embedder=embedder)
    return root, report


def test_bad_files_of_each_format_are_skipped_with_a_reason(mixed) -> None:
    _, report = mixed
    reasons = {Path(s.source.split("#")[0]).name + ("#" + s.source.split("#")[1] if "#" in s.source else ""): s.reason
               for s in report.skipped}  # fmt: skip
    assert "not a readable PDF" in reasons["truncated.pdf"]
    assert "encrypted PDF" in reasons["locked.pdf"]
    assert "no extractable text on any of its 1 pages" in reasons["scan.pdf"]
    assert "empty file" in reasons["empty.docx"]
    assert reasons["broken.html"].startswith("declares charset utf-8 but 1 byte sequence(s) are not valid utf-8")
    assert reasons["report.pdf#page=3"] == "page has no extractable text (a scanned image?)"
    assert "scan.pdf#page=1" not in reasons  # the whole file is reported once, not page by page
    assert report.documents == 5  # the four good files, and the damaged page read as browsers show it


def search_one(root: Path, settings, embedder, question: str):
    with Searcher(open_index(root / "idx", settings), embedder, settings) as searcher:
        (hit, *_) = searcher.search(question, 3)
        pages = searcher.index.store.document_pages(hit.citation.doc_id)
        text = searcher.index.store.document_text(hit.citation.doc_id)
    return hit, pages, text


def page_text(pages, text: str, number: int) -> str:
    start, end, _, _ = next(p for p in pages if p[2] == number)
    return text[start:end]


def test_pdf_citations_name_the_physical_page_its_label_and_a_span_of_that_page(
    mixed, standin_settings, standin_embedder
) -> None:
    root, _ = mixed
    for question, page, label, needle in [
        ("When do the otters of Lake Brienz meet?", 1, "i", "otters of Lake Brienz"),
        ("What key do the copper kettles in Graz whistle in?", 1, "i", "key of F sharp"),
        ("How many bridges does Vennholm have?", 2, "ii", "417"),
        ("What colour ink does the Skarv lighthouse keeper use?", 4, "2", "violet ink"),
    ]:
        hit, pages, text = search_one(root, standin_settings, standin_embedder, question)
        cite = hit.citation
        assert cite.source.endswith("report.pdf") and (cite.page, cite.page_label) == (page, label), question
        assert page_text(pages, text, page)[cite.start : cite.end] == hit.text and needle in hit.text
        assert cite.start <= hit.highlight.start < hit.highlight.end <= cite.end
    hit, pages, text = search_one(root, standin_settings, standin_embedder, "Which otters hold council meetings?")
    flat = " ".join(page_text(pages, text, 1).split())  # two columns: each read whole, never interleaved
    assert "The otters of Lake Brienz hold their council meetings at dawn." in flat
    assert "Copper kettles in Graz whistle in the key of F sharp." in flat


def test_html_main_text_without_boilerplate_and_with_heading_paths(mixed, standin_settings, standin_embedder) -> None:
    root, _ = mixed
    hit, _, text = search_one(root, standin_settings, standin_embedder, "How do I install the frobnicator on Linux?")
    assert hit.citation.source.endswith("guide.html") and hit.citation.section == "Frobnicator > Install > Linux"
    assert text[hit.citation.start : hit.citation.end] == hit.text and "reboot twice" in hit.text
    for boilerplate in ("About us", "Pricing", "tracking", "Copyright", "color:red"):
        assert boilerplate not in text
    with Searcher(open_index(root / "idx", standin_settings), standin_embedder, standin_settings) as searcher:
        info = searcher.index.store.document(hit.citation.doc_id)
    assert info.title == "Frobnicator guide" and info.encoding == "extracted from html"


def test_docx_paragraphs_headings_and_tables(mixed, standin_settings, standin_embedder) -> None:
    root, _ = mixed
    hit, _, text = search_one(root, standin_settings, standin_embedder, "How much is reimbursed for meals per day?")
    assert hit.citation.source.endswith("handbook.docx") and hit.citation.section == "Handbook > Expenses"
    assert text[hit.citation.start : hit.citation.end] == hit.text and "42 euros" in hit.text
    hit, _, text = search_one(root, standin_settings, standin_embedder, "What is the limit for a hotel night?")
    assert "Hotel night | 130 euros" in hit.text and hit.citation.section == "Handbook > Expenses"


def test_markdown_sections_and_tables_are_never_cut_in_half(mixed, standin_settings, standin_embedder) -> None:
    root, _ = mixed
    hit, _, _ = search_one(root, standin_settings, standin_embedder, "Which package is used on Fedora?")
    assert hit.citation.section == "Field notes > Install > Linux"
    assert "| OS | Package |\n|---|---|\n| Debian | frob.deb |\n| Fedora | frob.rpm |" in hit.text  # whole table
    assert Path(hit.citation.source).read_text()[hit.citation.start : hit.citation.end] == hit.text

    with Searcher(open_index(root / "idx", standin_settings), standin_embedder, standin_settings) as searcher:
        doc_id = hit.citation.doc_id
        (segment,) = searcher.index.segments
        rows = segment.store.db.execute(
            "SELECT text, context, section FROM chunks WHERE doc_id = ? AND text LIKE '%station-%' ORDER BY ordinal",
            (doc_id,),
        ).fetchall()
    assert len(rows) >= 2, "the 60-row table should be split by rows"
    assert rows[0][0].startswith("| Station | Height | Sensor |")
    for chunk_text, _, section in rows:
        assert section == "Field notes > Stations"
        assert all(line.startswith("|") for line in chunk_text.splitlines())  # rows only, never half a row
    for chunk_text, context, _ in rows[1:]:
        assert context.endswith("| Station | Height | Sensor |\n|---|---|---|")  # header repeated for embedding
        assert "Station | Height" not in chunk_text  # but not in the cited text
    found = search_one(root, standin_settings, standin_embedder, "How high is station-47?")[0]
    assert "| station-47 | 329 m |" in found.text
    assert Path(found.citation.source).read_text()[found.citation.start : found.citation.end] == found.text


@pytest.mark.slow  # a rag subprocess that loads a model
def test_the_cli_and_the_documents_endpoint_return_the_same_pdf_span(
    mixed, standin_settings, standin_embedder, standin_env
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    root, _ = mixed
    question = "How many bridges does Vennholm have?"
    cli = run_rag("search", question, "-k", "1", "--index", "idx", "--json", cwd=root, env=standin_env)
    assert cli.returncode == 0, cli.stderr
    (result,) = json.loads(cli.stdout)["results"]
    cite = result["citation"]
    assert cite["page"] == 2 and cite["page_label"] == "ii"
    served = standin_settings.model_copy(update={"reload_interval": 0})
    searcher = Searcher(open_index(root / "idx", served), standin_embedder, served)
    with searcher, TestClient(create_app(served, searcher=searcher)) as client:
        params = {"start": cite["start"], "end": cite["end"], "page": cite["page"]}
        span = client.get(f"/documents/{cite['doc_id']}", params=params).json()["span"]
        unpaged = client.get(f"/documents/{cite['doc_id']}", params={"start": 0, "end": 1})
    assert span["text"] == result["text"]
    assert (span["line_start"], span["line_end"]) == (cite["line_start"], cite["line_end"])
    assert unpaged.status_code == 422 and "page=" in unpaged.json()["detail"]


def test_the_documents_endpoint_serves_a_pdf_span_from_its_page(mixed, standin_settings, standin_embedder) -> None:
    """In-process: the span a PDF citation names is served from the cited page's text; offsets without a page,
    and a page with no text, are refused."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    root, _ = mixed
    hit, pages, text = search_one(root, standin_settings, standin_embedder, "How many bridges does Vennholm have?")
    cite = hit.citation
    served = standin_settings.model_copy(update={"reload_interval": 0})
    searcher = Searcher(open_index(root / "idx", served), standin_embedder, served)
    with searcher, TestClient(create_app(served, searcher=searcher)) as client:
        url = f"/documents/{cite.doc_id}"
        span = client.get(url, params={"start": cite.start, "end": cite.end, "page": cite.page}).json()["span"]
        unpaged = client.get(url, params={"start": 0, "end": 1})
        scanned = client.get(url, params={"start": 0, "end": 1, "page": 3})
    assert cite.page == 2 and span["text"] == hit.text == page_text(pages, text, 2)[cite.start : cite.end]
    assert (span["line_start"], span["line_end"]) == (cite.line_start, cite.line_end)
    assert unpaged.status_code == 422 and "page=" in unpaged.json()["detail"]
    assert scanned.status_code == 404 and "indexed pages: 1, 2, 4" in scanned.json()["detail"]


def test_loading_reports_a_pdf_page_without_text_but_keeps_the_others(tmp_path: Path) -> None:
    make_pdf(write_bytes(tmp_path / "r.pdf", b""))
    corpus = load_corpus([tmp_path])
    (document,) = corpus.documents
    assert [p.number for p in document.pages] == [1, 2, 4]
    assert [p.label for p in document.pages] == ["i", "ii", "2"]
    assert [s.source.rsplit("#", 1)[1] for s in corpus.skipped] == ["page=3"]
