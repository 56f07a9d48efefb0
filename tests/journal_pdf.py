"""A generated journal paper for the PDF tests: every page carries a running header and a numbered footer, and
the body uses the fi and fl ligature characters (DejaVu Sans from matplotlib's data, which has their glyphs)."""

from __future__ import annotations

from pathlib import Path

import pytest


def dejavu_path() -> str:
    matplotlib = pytest.importorskip("matplotlib")
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def make_journal_pdf(path: Path, pages: int = 6) -> Path:
    """A paper whose every page carries a running header (journal name), a footer with the page number, and body
    text with the fi and fl ligature characters."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", fname=dejavu_path())
    topics = ["otters", "kettles", "lighthouses", "bridges", "orchards", "glaciers", "ferries", "beacons"]
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("DejaVu", size=9)
        pdf.set_xy(10, 8)
        pdf.cell(0, 5, "Journal of Coastal Engineering, Vol. 12 (2019)")
        pdf.set_font("DejaVu", size=11)
        pdf.set_xy(10, 30)
        topic = topics[(number - 1) % len(topics)]
        pdf.multi_cell(
            0, 6, f"Section {number}. The \ufb01eld survey of {topic} found that the \ufb02ow of water through the "
            f"harbour changes with the tide; each of\ufb01cial record lists the {topic} by district."
        )  # fmt: skip
        pdf.set_font("DejaVu", size=9)
        pdf.set_xy(10, 280)
        pdf.cell(0, 5, f"Page {number} of {pages}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(pdf.output()))
    return path
