"""rag's text of each PDF in a folder against poppler's pdftotext, word for word.

Why: a sweep of PDFs that some program made (groff's manual pages through ps2pdf, LibreOffice, OCRmyPDF) is read
the way ``rag index`` reads it, through ``load_file``, and compared with a reference extractor. Two figures per
file, over lower-cased NFKC ``\\w+`` words: the share of pdftotext's words that rag's text holds ("found"; running
headers and footers, which rag leaves out by design, count as missing), and the share of rag's words that
pdftotext's text holds ("in reference": words run together or split apart lower it). The words each side has
and the other lacks are listed, most frequent first.

    python benchmarks/pdf_words.py FOLDER [FOLDER ...]
"""

from __future__ import annotations

import argparse
import subprocess
from collections import Counter
from pathlib import Path

from pdf_extractors import PDFTOTEXT, recall, tokens

from rag.ingest.loading import load_file
from rag.types import Document


def words(text: str) -> Counter[str]:
    """The words compared: ``pdf_extractors``' tokens (NFKC, lower-cased ``\\w+``), counted."""
    return Counter(tokens(text))


def reference_words(path: Path) -> Counter[str]:
    run = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=False)
    return words(run.stdout)


def rag_text(path: Path, root: Path) -> tuple[str, str | None]:
    """rag's text of the file as ``rag index`` reads it, and why it was skipped when nothing was read (pages
    without text are reported and the rest read)."""
    texts, reasons = [], []
    for loaded in load_file(path, root):
        if isinstance(loaded, Document):
            texts.append(loaded.text)
        else:
            reasons.append(getattr(loaded, "reason", str(loaded)))
    return "\n".join(texts), ("; ".join(reasons) if reasons and not texts else None)


def rag_words(path: Path, root: Path) -> Counter[str] | str:
    """rag's words of the file, or why it was skipped."""
    text, skipped = rag_text(path, root)
    return skipped if skipped is not None else words(text)


def compare(name: str, reference: Counter[str], ours: Counter[str], totals: Counter[str], *, top: int,
            label: str = "pdftotext", extra: str = "") -> None:  # fmt: skip
    """Print one file's two figures (and ``extra``) and the words each side lacks; add its counts to ``totals``."""
    found, precise = recall(reference, ours) or 0.0, recall(ours, reference) or 0.0
    shared = round(found * sum(reference.values()))
    totals.update(reference=sum(reference.values()), ours=sum(ours.values()), shared=shared)
    print(f"{name}: found {found:.3f}, in reference {precise:.3f}{extra}")
    print(f"  only {label}: {(reference - ours).most_common(top)}")
    print(f"  only {'rag:':<{len(label) + 1}} {(ours - reference).most_common(top)}")


def overall(totals: Counter[str]) -> str:
    """The two figures over every file compared."""
    found, precise = totals["shared"] / totals["reference"], totals["shared"] / max(1, totals["ours"])
    return f"all: found {found:.4f}, in reference {precise:.4f}"


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=8, help="how many differing words to list per file")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0])
    totals: Counter[str] = Counter()
    for folder in args.folders:
        root = folder.resolve()
        for path in sorted(root.glob("*.pdf")):
            reference, ours = reference_words(path), rag_words(path, root)
            if isinstance(ours, str):
                print(f"{path.name}: skipped ({ours})")
                continue
            compare(path.name, reference, ours, totals, top=args.top)
    if totals["reference"]:
        print(overall(totals))


if __name__ == "__main__":
    main()
