"""Hostile files, made on the spot: what an outside audit fed the indexer, for the tests and for
``benchmarks/hostile_corpus.py`` (which makes them at full size).

Each maker writes one file (or link, or pipe) and returns the name it is reported under, relative to the folder,
and a piece of the reason the report must give.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.reading import LoadLimits


@dataclass(frozen=True)
class Expected:
    """A hostile file as the report must name it: its path relative to the corpus and a piece of the reason."""

    name: str
    reason: str


def ordinary_files(folder: Path) -> dict[str, str]:
    """A few ordinary documents with a sentence each that a search must find; returns name -> sentence."""
    sentences = {
        "notes/harbour.txt": "The harbour master logs every ferry that docks after midnight.",
        "notes/orchard.md": "# Orchard\n\nThe orchard grows seventeen varieties of pear on the north slope.",
        "report.html": "<html><body><main><h1>Report</h1><p>The glacier retreated four metres this summer.</p>"
        "</main></body></html>",
    }
    for name, text in sentences.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sentences


def fifo(folder: Path) -> Expected:
    os.mkfifo(folder / "pipe.txt")
    return Expected("pipe.txt", "named pipe (FIFO)")


def escaping_symlink(folder: Path, target: Path) -> Expected:
    """A link to a file outside the folder (the audit used /etc/passwd)."""
    (folder / "passwd.txt").symlink_to(target)
    return Expected("passwd.txt", "outside the indexed folder")


def bad_name(folder: Path) -> Expected:
    """A file whose name is not valid UTF-8; its content is ordinary and must be indexed."""
    path = Path(os.fsdecode(os.fsencode(folder) + b"/bad\xff\xfename.txt"))
    path.write_text("The lighthouse keeper painted the stairs blue.", encoding="utf-8")
    return Expected("bad\\xff\\xfename.txt", "")


def deep_html(folder: Path, depth: int) -> Expected:
    """A page nested ``depth`` levels deep, with one sentence at the bottom: indexed up to the parser's depth limit
    (beyond Python's recursion limit), refused with a reason past it."""
    from rag.ingest.formats.html import MAX_HTML_DEPTH

    body = "<div>" * depth + "The well at the bottom is dry." + "</div>" * depth
    name = f"deep{depth}.html"
    (folder / name).write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return Expected(name, "nested" if depth > MAX_HTML_DEPTH else "")


def one_line_text(folder: Path, size: int, name: str = "oneline.txt") -> Expected:
    """``size`` bytes of words on one line (no line break, no sentence end), words drawn at random from a fixed
    vocabulary so that passages differ (no cache can shortcut them)."""
    rng = random.Random(7)
    vocabulary = [
        "river", "stone", "market", "window", "garden", "engine", "letter", "winter", "silver", "harbour",
        "bridge", "candle", "forest", "pocket", "ladder", "mirror", "thunder", "velvet", "meadow", "compass",
    ]  # fmt: skip
    with (folder / name).open("wb") as handle:
        written = 0
        while written < size:  # in blocks, so a 200 MB file costs no more memory than a small one
            block = (" ".join(f"{rng.choice(vocabulary)}{rng.randrange(1000)}" for _ in range(100_000)) + " ").encode()
            block = block[: size - written]
            handle.write(block)
            written += len(block)
    return Expected(name, "RAG_MAX_EXTRACTED_CHARS")


def docx_bomb(folder: Path, inflated: int, name: str = "bomb.docx") -> Expected:
    """A DOCX whose ``word/document.xml`` inflates to ``inflated`` bytes from a small file."""
    buffer = io.BytesIO()
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
        b"<w:t>"
    )
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(head)
            block = b"A" * (1 << 20)
            left = inflated - len(head) - len(tail)
            while left > 0:
                part.write(block[: min(left, len(block))])
                left -= len(block)
            part.write(tail)
    (folder / name).write_bytes(buffer.getvalue())
    too_large = inflated > LoadLimits().max_decompressed_bytes
    return Expected(name, "RAG_MAX_DECOMPRESSED_BYTES" if too_large else "zip bomb")


def truncated_pdf(folder: Path) -> Expected:
    """A real PDF cut in half."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(3):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, "A page of an ordinary report about tides and harbours. " * 20)
    data = bytes(pdf.output())
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    return Expected("truncated.pdf", "not a readable PDF")


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def make_hostile_corpus(
    folder: Path, outside: Path, *, html_depths: tuple[int, ...], one_line_bytes: int, bomb_bytes: int
) -> tuple[dict[str, str], list[Expected]]:
    """Ordinary files and every hostile one in ``folder``; ``outside`` is a file outside it that a link points at.
    Returns the ordinary files' sentences and what the report must say of the hostile ones (an empty reason: the
    file must be indexed)."""
    folder.mkdir(parents=True, exist_ok=True)
    sentences = ordinary_files(folder)
    hostile = [
        fifo(folder),
        escaping_symlink(folder, outside),
        bad_name(folder),
        *(deep_html(folder, depth) for depth in html_depths),
        one_line_text(folder, one_line_bytes),
        docx_bomb(folder, bomb_bytes),
        truncated_pdf(folder),
    ]
    return sentences, hostile
