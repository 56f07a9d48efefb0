"""Compare PDF text extraction libraries against poppler's pdftotext, page by page.

Why: the project extracts PDF text with pypdf. Before keeping it or switching, we measure pypdf, pypdfium2 and
pdfminer.six (pdfplumber optionally) against a reference extractor, ``pdftotext -f N -l N -enc UTF-8 FILE -``
(poppler, default mode), on real third-party PDFs: two-column papers, slide decks, a French standard and a scan.

How to run:
    python benchmarks/pdf_extractors.py                                 # default folder, prints the tables
    python benchmarks/pdf_extractors.py --folder DIR --json out.json    # another folder, keep every figure
    python benchmarks/pdf_extractors.py --pdfplumber                    # also pdfplumber (slow: ~2x pdfminer)

The PDFs are read in place; nothing is copied. Per physical page and library (both sides NFKC-normalised,
whitespace collapsed, lowercased ``\\w+`` tokens):

* word recall: share of the reference's token multiset found in the candidate's tokens. "raw" scores the text as
  the library returns it; "clean" first applies the cleanup any integration would do for every library alike:
  CRLF -> LF, drop soft hyphens and pdfium's line-break hyphenation markers (U+0002 / U+FFFE between letters), and
  join ``word-\\nword`` (pdftotext de-hyphenates, so the reference has the joined word).
* garbage: C0/C1 control characters other than \\n, \\t (and \\r of CRLF), U+FFFD, private-use characters,
  noncharacters, and glyph-name leftovers such as ``/uni00A0`` or ``/C0`` that the reference does not contain.
  pdfium's hyphenation markers between two letters are counted apart ("hyph. markers"), not as garbage.
* missing spaces: share of clean candidate tokens of >= 12 letters that are absent from the page's reference
  vocabulary but split into two or more reference tokens.
* reading order (two-column pages only, detected from ``pdftotext -bbox-layout``): for each reference line, the
  first 4-token shingle unique in both texts; Kendall tau of its candidate positions against the reference order.
* ligatures: U+FB00-U+FB06 characters in the raw output (NFKC folds them, so they cost nothing after it).
* speed: every page of every PDF, each library's full pass twice (order reversed the second time), faster kept.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import io
import json
import logging
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_FOLDER = Path("/work/shared/realdocs-dev/corpus/pdf")
PDFTOTEXT = "pdftotext"
RECALL_THRESHOLD = 0.9
LONG_TOKEN = 12
SHINGLE = 4
LIGATURES = {chr(c) for c in range(0xFB00, 0xFB07)}
HYPHEN_MARKERS = "\x02\ufffe"  # pdfium: a line-break hyphen it removed, left between the two word halves

TOKEN_RE = re.compile(r"\w+")
MARKER_RE = re.compile(rf"(?<=\w)[{HYPHEN_MARKERS}](?=\w)")
LINE_HYPHEN_RE = re.compile(r"(\w)-[ \t]*\n[ \t]*(\w)")
GLYPH_NAME_RE = re.compile(r"(?<![\w/:.])/[A-Za-z][A-Za-z0-9_.]*")
CID_RE = re.compile(r"\(cid:\d+\)")
OTHER_ODD_RE = re.compile(r"[\x00\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")  # not \x02, \t, \n, \r
PAGE_RE = re.compile(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', re.S)
BLOCK_RE = re.compile(r'<block xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>(.*?)</block>', re.S)

Pages = list[str]
Extractor = Callable[[Path], Pages]


# --------------------------------------------------------------------------------------------- extractors


def pdftotext_page(path: Path, page: int) -> str:
    """The reference text of one physical page (1-based), default mode, form feed removed."""
    cmd = [PDFTOTEXT, "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(path), "-"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode("utf-8", errors="replace")
    return out.rstrip("\f")


def page_count(path: Path) -> int:
    """Physical page count, from poppler's pdfinfo (independent of the libraries under test)."""
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def extract_pdftotext_per_page(path: Path) -> Pages:
    """The reference: one pdftotext subprocess per page."""
    return [pdftotext_page(path, n) for n in range(1, page_count(path) + 1)]


def extract_pdftotext_per_file(path: Path) -> Pages:
    """One pdftotext subprocess for the whole file, split on form feeds (speed comparison only)."""
    out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    pages = out.stdout.decode("utf-8", errors="replace").split("\f")
    return pages[:-1] if pages and pages[-1] == "" else pages


def extract_pypdf(path: Path) -> Pages:
    """pypdf's plain mode, ``page.extract_text()`` with its defaults."""
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(path).pages]


def extract_pypdfium2(path: Path) -> Pages:
    """pdfium's page text, ``get_text_bounded()`` over the page box.

    get_text_range() is the other whole-page call; its docstring says it is limited to UCS-2, while
    get_text_bounded() decodes full UTF-16, so bounded is the one to use.
    """
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def extract_pdfminer(path: Path) -> Pages:
    """pdfminer.six's ``extract_text`` output per page (TextConverter, default LAParams), one parse per file."""
    from pdfminer.converter import TextConverter
    from pdfminer.layout import LAParams
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    pages = []
    with path.open("rb") as fp, io.StringIO() as out:
        resources = PDFResourceManager(caching=True)
        device = TextConverter(resources, out, laparams=LAParams())
        interpreter = PDFPageInterpreter(resources, device)
        for page in PDFPage.get_pages(fp, caching=True):
            interpreter.process_page(page)
            pages.append(out.getvalue().removesuffix("\f"))
            out.seek(0)
            out.truncate()
    return pages


def extract_pdfplumber(path: Path) -> Pages:
    """pdfplumber's ``page.extract_text()`` with its defaults."""
    import pdfplumber

    pages = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            pages.append(page.extract_text())
            page.close()
    return pages


LIBRARIES: dict[str, Extractor] = {
    "pypdf": extract_pypdf,
    "pypdfium2": extract_pypdfium2,
    "pdfminer.six": extract_pdfminer,
}
DISTRIBUTIONS = {"pypdf": "pypdf", "pypdfium2": "pypdfium2", "pdfminer.six": "pdfminer.six", "pdfplumber": "pdfplumber"}


# --------------------------------------------------------------------------------------------- page labels


def labels_pypdf(path: Path) -> list[str] | None:
    """pypdf's labels; it falls back to "1", "2", ... itself when the PDF has no /PageLabels."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    return list(reader.page_labels) if "/PageLabels" in reader.trailer["/Root"] else None


def labels_pypdfium2(path: Path) -> list[str] | None:
    """pypdfium2's ``PdfDocument.get_page_label(i)``; an empty string means the PDF defines no label."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        labels = [pdf.get_page_label(i) for i in range(len(pdf))]
    finally:
        pdf.close()
    return labels if any(labels) else None


def labels_pdfminer(path: Path) -> list[str] | None:
    """pdfminer's ``PDFPage.label`` (None when the PDF has no /PageLabels)."""
    from pdfminer.pdfpage import PDFPage

    with path.open("rb") as fp:
        labels = [page.label for page in PDFPage.get_pages(fp)]
    return labels if any(label is not None for label in labels) else None


LABELERS: dict[str, Callable[[Path], list[str] | None]] = {
    "pypdf": labels_pypdf,
    "pypdfium2": labels_pypdfium2,
    "pdfminer.six": labels_pdfminer,
    "pdfplumber": labels_pdfminer,  # pdfplumber exposes pdfminer's page object: page.page_obj.label
}


# --------------------------------------------------------------------------------------------- text helpers


def normalize(text: str) -> str:
    """NFKC, then every whitespace run to one space (lines are kept apart by the callers that need them)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def tokens(text: str) -> list[str]:
    """Lowercased ``\\w+`` tokens of the normalised text."""
    return TOKEN_RE.findall(normalize(text).lower())


def clean(text: str) -> str:
    """The cleanup an integration would apply to any library's output before indexing."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xad", "")
    text = MARKER_RE.sub("", text)
    return LINE_HYPHEN_RE.sub(r"\1\2", text)


def recall(reference: Counter[str], candidate: Counter[str]) -> float | None:
    """Share of the reference token multiset found in the candidate; None for a page without reference text."""
    total = sum(reference.values())
    if not total:
        return None
    return sum(min(n, candidate[tok]) for tok, n in reference.items()) / total


def garbage(raw: str, reference_raw: str) -> Counter[str]:
    """Suspicious characters and tokens in a library's raw output, by kind."""
    found: Counter[str] = Counter()
    for i, ch in enumerate(raw):
        code = ord(ch)
        category = unicodedata.category(ch)
        if ch in "\n\t" or (ch == "\r" and raw[i + 1 : i + 2] == "\n"):
            continue
        if ch in HYPHEN_MARKERS and 0 < i < len(raw) - 1 and raw[i - 1].isalnum() and raw[i + 1].isalnum():
            found["hyphen_marker"] += 1
        elif category == "Cc":
            found["nul" if code == 0 else "control"] += 1
        elif ch == "\ufffd":
            found["replacement"] += 1
        elif category == "Co":
            found["private_use"] += 1
        elif (code & 0xFFFE) == 0xFFFE or 0xFDD0 <= code <= 0xFDEF:
            found["noncharacter"] += 1
    names = [name for name in GLYPH_NAME_RE.findall(raw) if name not in reference_raw]
    found["glyph_name"] = len(names)
    # pypdf also leaves "/" of glyph names inside words ("BM/1/1", "e/\x0bect"): slashes beyond the reference's
    found["stray_slash"] = max(0, raw.count("/") - reference_raw.count("/") - len(names))
    found["cid"] = len(CID_RE.findall(raw))  # pdfminer's "(cid:12)" for a glyph without a Unicode mapping
    return +found


def splits_into(word: str, vocab: set[str]) -> bool:
    """Whether ``word`` is a concatenation of two or more vocabulary tokens (pieces of >= 2 chars, or "a")."""
    reachable = [0] * (len(word) + 1)  # pieces needed to reach position i, 0 = unreachable (except start)
    reachable[0] = 1
    for end in range(1, len(word) + 1):
        for start in range(end):
            piece = word[start:end]
            if reachable[start] and piece in vocab and (len(piece) >= 2 or piece == "a"):
                count = reachable[start] + 1
                reachable[end] = max(reachable[end], count)
    return reachable[-1] >= 3  # start marker + at least two pieces


def missing_spaces(candidate_tokens: Iterable[str], vocab: set[str]) -> tuple[list[str], int]:
    """(glued tokens, number of long tokens): long alphabetic tokens that are reference tokens run together."""
    long_tokens = [t for t in candidate_tokens if len(t) >= LONG_TOKEN and t.isalpha()]
    glued = [t for t in long_tokens if t not in vocab and splits_into(t, vocab)]
    return glued, len(long_tokens)


def shingles(toks: list[str]) -> list[tuple[str, ...]]:
    return [tuple(toks[i : i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)]


def kendall_tau(values: list[int]) -> float | None:
    """Kendall tau-a of ``values`` against their index order (1 = same order, -1 = reversed)."""
    n = len(values)
    if n < 2:
        return None
    score = 0
    for i in range(n):
        for j in range(i + 1, n):
            score += (values[j] > values[i]) - (values[j] < values[i])
    return score / (n * (n - 1) / 2)


def reading_order(reference_raw: str, candidate_text: str) -> tuple[float | None, int, int]:
    """(Kendall tau, lines located, lines with a shingle) of the reference's lines inside the candidate."""
    ref_lines = [tokens(line) for line in reference_raw.splitlines()]
    ref_counts = Counter(s for line in ref_lines for s in shingles(line))
    cand_shingles = shingles(tokens(candidate_text))
    cand_counts = Counter(cand_shingles)
    first_position: dict[tuple[str, ...], int] = {}
    for pos, sh in enumerate(cand_shingles):
        first_position.setdefault(sh, pos)
    positions: list[int] = []
    eligible = 0
    for line in ref_lines:
        unique = [s for s in shingles(line) if ref_counts[s] == 1]
        if not unique:
            continue
        eligible += 1
        located = next((s for s in unique if cand_counts[s] == 1), None)
        if located is not None:
            positions.append(first_position[located])
    return kendall_tau(positions), len(positions), eligible


def two_column_pages(path: Path, min_words: int = 100, min_share: float = 0.25) -> list[bool]:
    """Per page, whether pdftotext's blocks put >= min_share of the words in each half of the page.

    Parsed with regular expressions: pdftotext's XHTML can hold control characters that XML parsers refuse.
    """
    out = subprocess.run([PDFTOTEXT, "-bbox-layout", str(path), "-"], capture_output=True, check=True).stdout
    flags = []
    for page in PAGE_RE.finditer(out.decode("utf-8", errors="replace")):
        width = float(page.group(1))
        left = right = total = 0
        for block in BLOCK_RE.finditer(page.group(2)):
            words = block.group(3).count("<word ")
            total += words
            if float(block.group(2)) <= 0.52 * width:
                left += words
            elif float(block.group(1)) >= 0.48 * width:
                right += words
        flags.append(total >= min_words and left >= min_share * total and right >= min_share * total)
    return flags


# --------------------------------------------------------------------------------------------- measurement


@dataclass
class PageScore:
    page: int
    two_column: bool
    ref_tokens: int
    recall_raw: float | None
    recall_clean: float | None
    garbage: dict[str, int]
    glued: list[str]
    long_tokens: int
    order_tau: float | None
    order_lines: tuple[int, int]
    ligatures: int


@dataclass
class DocScore:
    document: str
    library: str
    pages: int
    error: str | None = None
    scores: list[PageScore] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return summarize(self.scores)


def score_page(number: int, two_col: bool, reference_raw: str, raw: str) -> PageScore:
    ref_toks = tokens(clean(reference_raw))
    ref_counts = Counter(ref_toks)
    cleaned = clean(raw)
    cand_clean = tokens(cleaned)
    glued, long_tokens = missing_spaces(cand_clean, set(ref_counts))
    tau, located, eligible = reading_order(reference_raw, cleaned) if two_col else (None, 0, 0)
    return PageScore(
        page=number,
        two_column=two_col,
        ref_tokens=len(ref_toks),
        recall_raw=recall(ref_counts, Counter(tokens(raw))),
        recall_clean=recall(ref_counts, Counter(cand_clean)),
        garbage=dict(garbage(raw, reference_raw)),
        glued=glued,
        long_tokens=long_tokens,
        order_tau=tau,
        order_lines=(located, eligible),
        ligatures=sum(1 for ch in raw if ch in LIGATURES),
    )


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def summarize(scores: list[PageScore]) -> dict[str, Any]:
    """Aggregate page scores: page-weighted means, sums of counts."""
    kinds: Counter[str] = Counter()
    for s in scores:
        kinds.update(s.garbage)
    hyphen_markers = kinds.pop("hyphen_marker", 0)
    glued = sum(len(s.glued) for s in scores)
    long_tokens = sum(s.long_tokens for s in scores)
    return {
        "pages": len(scores),
        "text_pages": sum(1 for s in scores if s.recall_raw is not None),
        "two_column_pages": sum(1 for s in scores if s.two_column),
        "recall_raw": mean(s.recall_raw for s in scores),
        "recall_clean": mean(s.recall_clean for s in scores),
        "low_recall_raw": sum(1 for s in scores if s.recall_raw is not None and s.recall_raw < RECALL_THRESHOLD),
        "low_recall_clean": sum(1 for s in scores if s.recall_clean is not None and s.recall_clean < RECALL_THRESHOLD),
        "garbage": sum(kinds.values()),
        "garbage_kinds": {k: v for k, v in sorted(kinds.items()) if v},
        "hyphen_markers": hyphen_markers,
        "glued": glued,
        "glued_examples": sorted({t for s in scores for t in s.glued})[:10],
        "long_tokens": long_tokens,
        "missing_space_share": glued / long_tokens if long_tokens else None,
        "order_tau": mean(s.order_tau for s in scores if s.two_column),
        "order_pages": sum(1 for s in scores if s.two_column and s.order_tau is not None),
        "ligatures": sum(s.ligatures for s in scores),
    }


def timed_pass(extractor: Extractor, pdfs: list[Path]) -> tuple[float, dict[str, Pages | str]]:
    """Extract every page of every PDF; return the wall time and the pages (or the error) per file."""
    results: dict[str, Pages | str] = {}
    start = time.perf_counter()
    for pdf in pdfs:
        try:
            results[pdf.name] = extractor(pdf)
        except Exception as exc:  # a library failing on a file is a finding, not a crash
            results[pdf.name] = f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - start, results


def run_timings(
    extractors: dict[str, Extractor], pdfs: list[Path], rounds: int = 2
) -> tuple[dict[str, float], dict[str, dict[str, Pages | str]]]:
    """Each extractor's full pass ``rounds`` times, order reversed every other round; best time, first outputs."""
    best: dict[str, float] = {}
    outputs: dict[str, dict[str, Pages | str]] = {}
    names = list(extractors)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            elapsed, result = timed_pass(extractors[name], pdfs)
            best[name] = min(best.get(name, float("inf")), elapsed)
            outputs.setdefault(name, result)
    return best, outputs


def pypdfium2_quirks(pdfs: list[Path], outputs: dict[str, Pages | str]) -> dict[str, Any]:
    """What an integration of pdfium's text API must handle, counted over the real output."""
    import pypdfium2 as pdfium

    counts: Counter[str] = Counter()
    range_differs = 0
    examples: dict[str, str] = {}
    for pdf in pdfs:
        pages = outputs.get(pdf.name)
        if not isinstance(pages, list):
            continue
        for text in pages:
            counts["crlf"] += text.count("\r\n")
            counts["bare_lf"] += text.count("\n") - text.count("\r\n")
            counts["form_feed"] += text.count("\f")
            counts["soft_hyphen"] += text.count("\xad")
            counts["u0002"] += text.count("\x02")
            counts["ufffe"] += text.count("\ufffe")
            counts["ufffd"] += text.count("\ufffd")
            counts["private_use"] += sum(1 for ch in text if unicodedata.category(ch) == "Co")
            for m in OTHER_ODD_RE.finditer(text):
                examples.setdefault(pdf.name, text[max(0, m.start() - 15) : m.end() + 15])
        doc = pdfium.PdfDocument(pdf)
        try:
            for index in range(len(doc)):
                textpage = doc[index].get_textpage()
                range_text = textpage.get_text_range()
                if range_text != textpage.get_text_bounded():
                    range_differs += 1
                counts["get_text_range_ufffe"] += range_text.count("\ufffe")
                counts["get_text_range_u0002"] += range_text.count("\x02")
        finally:
            doc.close()
    return {"counts": dict(counts), "pages_where_get_text_range_differs": range_differs, "examples": examples}


def distribution_info(name: str) -> dict[str, Any]:
    """Version, licence, direct requirements and installed size (own files; own + transitive deps)."""

    def own_size(dist: md.Distribution) -> int:
        total = 0
        for f in dist.files or []:
            located = Path(dist.locate_file(f))
            if located.is_file():
                total += located.stat().st_size
        return total

    def requirements(dist: md.Distribution) -> list[str]:
        reqs = []
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            reqs.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
        return reqs

    dist = md.distribution(name)
    meta = dist.metadata
    licence = meta.get("License-Expression") or meta.get("License") or ""
    if not licence:
        licence = "; ".join(c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License"))
    seen: set[str] = set()
    stack = requirements(dist)
    deps_size = 0
    while stack:
        dep = stack.pop()
        if dep.lower() in seen:
            continue
        seen.add(dep.lower())
        try:
            dep_dist = md.distribution(dep)
        except md.PackageNotFoundError:
            continue
        deps_size += own_size(dep_dist)
        stack.extend(requirements(dep_dist))
    return {
        "version": dist.version,
        "license": licence,
        "requires": requirements(dist),
        "transitive_requires": sorted(seen),
        "installed_mb": round(own_size(dist) / 1e6, 1),
        "with_deps_mb": round((own_size(dist) + deps_size) / 1e6, 1),
    }


def page_label_support(pdfs: list[Path], libraries: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per library and PDF: first/last label, or None when the library reports none."""
    result: dict[str, dict[str, Any]] = {}
    for lib in libraries:
        per_doc: dict[str, Any] = {}
        for pdf in pdfs:
            try:
                labels = LABELERS[lib](pdf)
            except Exception as exc:
                per_doc[pdf.name] = f"error: {type(exc).__name__}: {exc}"
                continue
            per_doc[pdf.name] = None if labels is None else [labels[0], labels[-1]]
        result[lib] = per_doc
    return result


# --------------------------------------------------------------------------------------------- report


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def garbage_text(summary: dict[str, Any]) -> str:
    kinds = summary["garbage_kinds"]
    return str(summary["garbage"]) + (" (" + ", ".join(f"{k}={v}" for k, v in kinds.items()) + ")" if kinds else "")


def report(result: dict[str, Any]) -> str:
    libs = result["libraries"]
    doc_rows = []
    for doc in result["documents"]:
        for lib in libs:
            entry = doc["libraries"][lib]
            if entry["error"]:
                doc_rows.append([doc["document"], lib, doc["pages"], "ERROR " + entry["error"][:60], *[""] * 7])
                continue
            s = entry["summary"]
            doc_rows.append(
                [
                    doc["document"],
                    lib,
                    f"{s['pages']}/{s['two_column_pages']}",
                    s["recall_raw"],
                    s["recall_clean"],
                    f"{s['low_recall_raw']}/{s['low_recall_clean']}",
                    f"{garbage_text(s)} [ref {doc['reference_garbage']}]",
                    s["hyphen_markers"],
                    f"{fmt(s['missing_space_share'])} ({s['glued']}/{s['long_tokens']})",
                    s["order_tau"],
                    f"{s['ligatures']} (ref {doc['reference_ligatures']})",
                ]
            )
    headers = [
        "document",
        "library",
        "pages/2col",
        "recall raw",
        "recall clean",
        "<0.9 raw/clean",
        "garbage",
        "hyph.markers",
        "missing spaces",
        "order tau",
        "ligatures",
    ]
    out = ["PER DOCUMENT (recall and order: page means; garbage etc.: sums over pages)", table(headers, doc_rows), ""]

    speed = result["speed"]
    base = speed["pdftotext (subprocess per file)"]["seconds"]
    sum_rows = []
    for lib in libs:
        s = result["summary"][lib]
        sp = speed[lib]
        sum_rows.append(
            [
                lib,
                s["recall_raw"],
                s["recall_clean"],
                f"{s['low_recall_raw']}/{s['low_recall_clean']} of {s['text_pages']}",
                s["garbage"],
                s["hyphen_markers"],
                f"{fmt(s['missing_space_share'])} ({s['glued']}/{s['long_tokens']})",
                f"{fmt(s['order_tau'])} ({s['order_pages']}/{s['two_column_pages']} p)",
                s["ligatures"],
                f"{sp['pages_per_second']:.1f}",
                f"{sp['seconds'] / base:.1f}x",
            ]
        )
    headers = [
        "library",
        "recall raw",
        "recall clean",
        "<0.9 raw/clean",
        "garbage",
        "hyph.markers",
        "missing spaces",
        "order tau 2col",
        "ligatures",
        "pages/s",
        "time vs pdftotext",
    ]
    out += ["SUMMARY (all pages with reference text; page-weighted means)", table(headers, sum_rows), ""]

    speed_rows = [
        [name, f"{v['seconds']:.2f}", f"{v['pages_per_second']:.1f}", f"{v['seconds'] / base:.1f}x"]
        for name, v in speed.items()
    ]
    out += [
        f"SPEED ({result['total_pages']} pages, best of 2 passes)",
        table(["extractor", "s", "pages/s", "vs pdftotext/file"], speed_rows),
        "",
    ]

    pkg_rows = []
    for lib in libs:
        info = result["packages"][lib]
        labelled = [doc for doc, lab in result["page_labels"][lib].items() if isinstance(lab, list)]
        pkg_rows.append(
            [
                f"{lib} {info['version']}",
                info["license"][:40],
                ", ".join(info["transitive_requires"]) or "none",
                info["installed_mb"],
                info["with_deps_mb"],
                f"{len(labelled)} docs: "
                + ", ".join(f"{d.removesuffix('.pdf')}={result['page_labels'][lib][d][0]}" for d in labelled),
            ]
        )
    headers = ["package", "licence", "deps (transitive)", "MB", "MB with deps", "page labels found"]
    out += ["PACKAGES AND PAGE LABELS", table(headers, pkg_rows), ""]

    quirks = result.get("pypdfium2_quirks")
    if quirks:
        out += ["PYPDFIUM2 OUTPUT QUIRKS (get_text_bounded, all pages)", json.dumps(quirks["counts"])]
        differs = quirks["pages_where_get_text_range_differs"]
        out.append(f"pages where get_text_range() differs from get_text_bounded(): {differs}")
        out += [f"  {doc}: {ex!r}" for doc, ex in quirks["examples"].items()]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------- main


def measure(folder: Path, with_pdfplumber: bool) -> dict[str, Any]:
    pdfs = sorted(folder.glob("*.pdf"))
    if not pdfs:
        raise SystemExit(f"no PDF in {folder}")
    libraries = dict(LIBRARIES)
    if with_pdfplumber:
        libraries["pdfplumber"] = extract_pdfplumber
    extractors: dict[str, Extractor] = {
        "pdftotext (subprocess per page)": extract_pdftotext_per_page,
        "pdftotext (subprocess per file)": extract_pdftotext_per_file,
        **libraries,
    }
    best, outputs = run_timings(extractors, pdfs)
    references = outputs["pdftotext (subprocess per page)"]
    total_pages = sum(len(p) for p in references.values() if isinstance(p, list))

    documents = []
    all_scores: dict[str, list[PageScore]] = {lib: [] for lib in libraries}
    for pdf in pdfs:
        reference = references[pdf.name]
        if not isinstance(reference, list):
            raise SystemExit(f"pdftotext failed on {pdf.name}: {reference}")
        two_col = two_column_pages(pdf)
        doc: dict[str, Any] = {
            "document": pdf.name,
            "pages": len(reference),
            "reference_ligatures": sum(1 for page in reference for ch in page if ch in LIGATURES),
            # the same character checks on pdftotext's own output: glyphs no extractor can map
            "reference_garbage": sum(sum(garbage(page, page).values()) for page in reference),
            "libraries": {},
        }
        for lib in libraries:
            pages = outputs[lib][pdf.name]
            score = DocScore(pdf.name, lib, len(reference))
            if isinstance(pages, str):
                score.error = pages
            else:
                if len(pages) != len(reference):
                    score.error = f"{len(pages)} pages extracted, reference has {len(reference)}"
                pages = pages + [""] * (len(reference) - len(pages))
                for n, (ref, raw) in enumerate(zip(reference, pages, strict=False), start=1):
                    score.scores.append(score_page(n, two_col[n - 1] if n <= len(two_col) else False, ref, raw))
                all_scores[lib].extend(score.scores)
            doc["libraries"][lib] = {
                "error": score.error,
                "summary": score.summary(),
                "pages": [asdict(s) for s in score.scores],
            }
        documents.append(doc)

    return {
        "folder": str(folder),
        "libraries": list(libraries),
        "total_pages": total_pages,
        "documents": documents,
        "summary": {lib: summarize(scores) for lib, scores in all_scores.items()},
        "speed": {name: {"seconds": best[name], "pages_per_second": total_pages / best[name]} for name in extractors},
        "packages": {lib: distribution_info(DISTRIBUTIONS[lib]) for lib in libraries},
        "page_labels": page_label_support(pdfs, libraries),
        "pypdfium2_quirks": pypdfium2_quirks(pdfs, outputs["pypdfium2"]),
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="folder of PDFs (read in place)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="save every figure, per page, to this file")
    parser.add_argument("--pdfplumber", action="store_true", help="also measure pdfplumber (adds minutes)")
    args = parser.parse_args(argv)
    for noisy in ("pypdf", "pdfminer", "pdfplumber"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    result = measure(args.folder, args.pdfplumber)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"\nsaved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
