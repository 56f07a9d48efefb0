"""rag's text of each DOCX in a folder against LibreOffice's text export, word for word and number for number.

Why: Word shows numbers before numbered headings and list items ("4.2", "b)") that the file does not hold as
text; LibreOffice lays the document out as Word does and writes those numbers in its text export, so it is the
reference here. Per file: the share of LibreOffice's words that rag's text holds ("found"), the share of rag's
words LibreOffice has ("in reference"), and of LibreOffice's lines that begin with a number, the share whose
number and first words rag's text has together ("numbers"). Headers and footers, which rag leaves out, count as
missing words.

    python benchmarks/docx_words.py FOLDER [FOLDER ...]     # needs soffice (apt-get install libreoffice-writer)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

from pdf_extractors import normalize, recall
from pdf_words import rag_text, words

NUMBERED_LINE = re.compile(r"^\s*((?:\d+[.)]?)+|\(?[A-Za-z]{1,4}[.)]|\d+(?:\.\d+)+)\s+(\S+(?: \S+){0,2})", re.MULTILINE)
"""A line of LibreOffice's export that begins with a list number or a section number, and its first words."""


def libreoffice_texts(paths: list[Path]) -> dict[Path, str]:
    """Each file's text as LibreOffice exports it (one soffice run for the lot)."""
    with tempfile.TemporaryDirectory() as out:
        command = ["soffice", "--headless", "--convert-to", "txt:Text (encoded):UTF8", "--outdir", out]
        subprocess.run([*command, *map(str, paths)], capture_output=True, check=False, timeout=1800)
        exported = {path: Path(out) / f"{path.stem}.txt" for path in paths}
        return {path: text.read_text("utf-8-sig") for path, text in exported.items() if text.exists()}


def numbered_lines(reference: str, ours: str) -> tuple[int, int]:
    """LibreOffice's lines that begin with a number, and how many of them rag's text has with the same number
    before the same first words."""
    flat = " ".join(normalize(ours).split())
    total = found = 0
    for match in NUMBERED_LINE.finditer(unicodedata.normalize("NFKC", reference)):
        total += 1
        found += f"{match.group(1)} {match.group(2)}" in flat
    return total, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=8, help="how many differing words to list per file")
    args = parser.parse_args()
    totals: Counter[str] = Counter()
    for folder in args.folders:
        root = folder.resolve()
        paths = sorted(root.glob("*.docx"))
        references = libreoffice_texts(paths)
        for path in paths:
            ours, skipped = rag_text(path, root)
            if skipped is not None or path not in references:
                print(f"{path.name}: skipped ({skipped or 'LibreOffice cannot read it'})")
                continue
            reference_words, our_words = words(references[path]), words(ours)
            found, precise = recall(reference_words, our_words) or 0.0, recall(our_words, reference_words) or 0.0
            lines, numbered = numbered_lines(references[path], ours)
            totals.update(reference=sum(reference_words.values()), ours=sum(our_words.values()))
            totals.update(shared=round(found * sum(reference_words.values())), lines=lines, numbered=numbered)
            print(f"{path.name}: found {found:.3f}, in reference {precise:.3f}, numbers {numbered}/{lines}")
            print(f"  only LibreOffice: {(reference_words - our_words).most_common(args.top)}")
            print(f"  only rag:         {(our_words - reference_words).most_common(args.top)}")
    if totals["reference"]:
        found, precise = totals["shared"] / totals["reference"], totals["shared"] / max(1, totals["ours"])
        print(f"all: found {found:.4f}, in reference {precise:.4f}, numbers {totals['numbered']}/{totals['lines']}")


if __name__ == "__main__":
    main()
