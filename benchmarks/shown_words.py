"""rag's text of each DOCX and web page in a folder against what Word and a browser show, word for word and
number for number.

Why: Word shows numbers before numbered headings and list items ("4.2", "b)") that the file does not hold as
text, and a browser numbers an ordered list's items. LibreOffice lays a DOCX out as Word does and writes those
numbers in its text export; Chromium prints a page with them (read back with pdftotext). Those are the references.
Per file: the share of the reference's words that rag's text holds ("found"), the share of rag's words the
reference has ("in reference"), and of the reference's lines that begin with a number, the share whose number and
first words rag's text has together ("numbers"). What rag leaves out by design (a DOCX's headers and footers, a
page's menus) counts as missing words.

    python benchmarks/shown_words.py FOLDER [FOLDER ...]   # needs soffice and chromium (apt-get install
                                                            # libreoffice-writer chromium poppler-utils)
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

from pdf_extractors import PDFTOTEXT, normalize
from pdf_words import arguments, compare, overall, rag_text, words

NUMBERED_LINE = re.compile(r"^\s*((?:\d+[.)]?)+|\(?[A-Za-z]{1,4}[.)]|\d+(?:\.\d+)+)\s+(\S+(?: \S+){0,2})", re.MULTILINE)
"""A line of a reference text that begins with a list number or a section number, and its first words."""


def chromium_texts(paths: list[Path]) -> dict[Path, str]:
    """Each page's text as Chromium prints it, without its header and footer lines, read back by pdftotext."""
    texts = {}
    with tempfile.TemporaryDirectory() as out:
        for path in paths:
            pdf = Path(out) / f"{path.stem}.pdf"
            command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"]
            subprocess.run([*command, f"--print-to-pdf={pdf}", path.as_uri()], capture_output=True, timeout=120)
            if pdf.exists():
                run = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True)
                texts[path] = run.stdout
    return texts


def libreoffice_texts(paths: list[Path]) -> dict[Path, str]:
    """Each file's text as LibreOffice exports it (one soffice run for the lot)."""
    if not paths:
        return {}
    with tempfile.TemporaryDirectory() as out:
        command = ["soffice", "--headless", "--convert-to", "txt:Text (encoded):UTF8", "--outdir", out]
        subprocess.run([*command, *map(str, paths)], capture_output=True, check=False, timeout=1800)
        exported = {path: Path(out) / f"{path.stem}.txt" for path in paths}
        return {path: text.read_text("utf-8-sig") for path, text in exported.items() if text.exists()}


def numbered_lines(reference: str, ours: str) -> tuple[int, int]:
    """The reference's lines that begin with a number, and how many of them rag's text has with the same number
    before the same first words."""
    flat = " ".join(normalize(ours).split())
    total = found = 0
    for match in NUMBERED_LINE.finditer(unicodedata.normalize("NFKC", reference)):
        total += 1
        found += f"{match.group(1)} {match.group(2)}" in flat
    return total, found


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0])
    totals: Counter[str] = Counter()
    for folder in args.folders:
        root = folder.resolve()
        documents, pages = sorted(root.glob("*.docx")), sorted(root.glob("*.htm*"))
        references = libreoffice_texts(documents) | chromium_texts(pages)
        for path in documents + pages:
            ours, skipped = rag_text(path, root)
            if skipped is not None or path not in references:
                print(f"{path.name}: skipped ({skipped or 'no reference text'})")
                continue
            lines, numbered = numbered_lines(references[path], ours)
            totals.update(lines=lines, numbered=numbered)
            extra = f", numbers {numbered}/{lines}"
            compare(
                path.name, words(references[path]), words(ours), totals, top=args.top, label="reference", extra=extra
            )
    if totals["reference"]:
        print(f"{overall(totals)}, numbers {totals['numbered']}/{totals['lines']}")


if __name__ == "__main__":
    main()
