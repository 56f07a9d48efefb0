"""Real third-party documents, read right: index a folder of real PDFs, web pages, Word files, Markdown and
legacy-encoded text, ask a question set over it, and check what comes back.

Usage: python benchmarks/realdocs.py [--folder ../shared/realdocs-dev] [--questions FILE ...] [--k 3] [--json OUT]

By default it reads ``../shared/realdocs-dev`` (its ``corpus/`` and ``questions.jsonl``) and the project's own
questions over the same files, ``benchmarks/realdocs/questions.jsonl``. The documents are not ours and are never
copied into the project. Answers are compared as the set's README says: Unicode NFKC on both sides, white space
collapsed. Prints:

- indexed: an answer is in the text the index holds for the question's source (extraction kept it);
- source@3: a passage of the question's source is in the top 3;
- found@1 / found@3: a passage of the question's source within the top 1 / 3 contains an answer;
- page right (PDF questions): the first such passage cites one of the question's pages;
- section right: the first such passage's heading path is the question's ``section``;
- spans exact: every passage returned equals the cited span of the stored text (its page's, for a PDF);
- per format: files, extraction time per file (and per page for PDFs), passages; then a no-change re-sync time.

Questions marked ``needs_ocr`` are scored apart: their file must be reported as skipped, not crash the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rag.embedding import Embedder
from rag.index.build import build_index
from rag.index.reader import open_index
from rag.ingest.loading import load_corpus
from rag.ingest.reading import LoadLimits
from rag.jsonl import read_jsonl
from rag.runtime import configure_process
from rag.search.searcher import Searcher
from rag.settings import Settings
from rag.types import INDEXED_SUFFIXES, Hit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT.parent / "shared" / "realdocs-dev"
OWN_QUESTIONS = ROOT / "benchmarks" / "realdocs" / "questions.jsonl"


def normalised(text: str) -> str:
    """NFKC, white space collapsed: how the set's answers are compared with passages. Extracted tables join their
    cells with " | ", where the reference extractors' visible text has white space: the bar counts as a space."""
    return " ".join(unicodedata.normalize("NFKC", text).replace(" | ", " ").split())


@dataclass
class Outcome:
    """How one question fared."""

    id: str
    fmt: str
    found_at: int | None = None
    source_in_top: bool = False
    """A passage of the question's source is among the top ``k`` (whether or not it holds the answer)."""
    indexed: bool = False
    """An answer is in the text the index holds for the source: extraction kept it."""
    page_right: bool | None = None
    section_right: bool | None = None
    cited: list[str] = field(default_factory=list)


def score(question: dict, hits: list[Hit], k: int, indexed_text: str) -> Outcome:
    """Where the first passage of the right source holding an answer ranks, and whether it cites the right place;
    ``indexed_text`` is the source's whole indexed text."""
    sources = question["sources"]
    fmt = sources[0].split("/")[-2] if "/" in sources[0] else "?"
    outcome = Outcome(
        question["id"], fmt, cited=[f"{h.citation.source} p{h.citation.page} {h.citation.section}" for h in hits]
    )
    answers = [normalised(a) for a in question["answers"]]
    outcome.indexed = any(a in normalised(indexed_text) for a in answers)
    for hit in hits[:k]:
        if not any(hit.citation.source.endswith(s) for s in sources):
            continue
        outcome.source_in_top = True
        if any(a in normalised(hit.text) for a in answers):
            outcome.found_at = hit.rank
            if question.get("page"):
                outcome.page_right = hit.citation.page in question["page"]
            if question.get("section"):
                outcome.section_right = normalised(hit.citation.section or "") == normalised(question["section"])
            break
    return outcome


def source_text(texts: dict[str, str], sources: list[str]) -> str:
    """The indexed text of a question's sources (cited as paths ending with them)."""
    return "\n".join(text for cited, text in texts.items() if any(cited.endswith(s) for s in sources))


def span_exact(searcher: Searcher, hit: Hit) -> bool:
    """The passage is exactly the cited span of the stored text (the page's text for a PDF)."""
    text = searcher.document_text(hit.citation.doc_id, hit.citation.page)
    return text[hit.citation.start : hit.citation.end] == hit.text


def extraction_times(corpus: Path, settings: Settings) -> dict[str, dict[str, float]]:
    """Per format: files, seconds per file and, for PDFs, per page, of loading (reading, decoding, extracting)."""
    per_format: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() in INDEXED_SUFFIXES):
        started = time.perf_counter()
        loaded = load_corpus([path], LoadLimits.from_settings(settings))
        seconds = time.perf_counter() - started
        pages = sum(len(d.pages) for d in loaded.documents)
        per_format[path.suffix.lower().lstrip(".")].append((seconds, pages))
    return {
        fmt: {
            "files": len(rows),
            "ms_per_file": 1000 * statistics.mean(s for s, _ in rows),
            "ms_per_page": 1000 * sum(s for s, _ in rows) / max(1, sum(p for _, p in rows)),
        }
        for fmt, rows in sorted(per_format.items())
    }


def ratio(values: list[bool | None]) -> str:
    judged = [v for v in values if v is not None]
    return f"{sum(judged)}/{len(judged)}" if judged else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="a folder with corpus/ (and questions)")
    parser.add_argument("--questions", type=Path, nargs="*", help="question files (default: the folder's and ours)")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--mode", default=None, help="dense, bm25 or hybrid (default: the setting)")
    parser.add_argument("--json", type=Path, help="write every figure and outcome here")
    parser.add_argument("--index", type=Path, help="keep the index here and sync it (default: a temporary folder)")
    args = parser.parse_args()
    settings = Settings()
    configure_process(settings)
    corpus = args.folder / "corpus"
    question_files = args.questions or [f for f in (args.folder / "questions.jsonl", OWN_QUESTIONS) if f.exists()]
    questions = [q for f in question_files for _, q in read_jsonl(f)]
    times = extraction_times(corpus, settings)
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index or Path(tmp)
        started = time.perf_counter()
        report = build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
        resync_seconds = time.perf_counter() - started
        skipped_sources = {s.source.split("#")[0] for s in report.skipped}
        with Searcher(open_index(index_dir, settings), embedder, settings, display_root=args.folder) as searcher:
            answerable = [q for q in questions if not q.get("needs_ocr")]
            results = searcher.search_batch([q["question"] for q in answerable], k=max(args.k, 3), mode=args.mode)
            texts = {d.source: searcher.document_text(d.doc_id) for d in searcher.documents()}
            outcomes = [
                score(q, hits, args.k, source_text(texts, q["sources"]))
                for q, hits in zip(answerable, results, strict=True)
            ]
            spans = [span_exact(searcher, hit) for hits in results for hit in hits]
    ocr = [q for q in questions if q.get("needs_ocr")]
    ocr_reported = sum(any(s.endswith(src) for s in skipped_sources for src in q["sources"]) for q in ocr)

    print(f"{len(questions)} questions from {', '.join(str(f) for f in question_files)}")
    print(
        f"{report.documents} documents, {report.chunks} passages; build {build_seconds:.1f} s; "
        f"no-change re-sync {resync_seconds:.2f} s"
    )
    header = ("format", "questions", "indexed", "source@3", "found@1", "found@3", "page right", "section right")
    print("\n" + " ".join(f"{h:>{max(8, len(h))}}" if i else f"{h:8}" for i, h in enumerate(header)))
    by_format: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_format[outcome.fmt].append(outcome)
    for fmt, rows in [*sorted(by_format.items()), ("all", outcomes)]:
        print(
            f"{fmt:8} {len(rows):9} {sum(o.indexed for o in rows):8} {sum(o.source_in_top for o in rows):8} "
            f"{sum(o.found_at == 1 for o in rows):8} {sum(o.found_at is not None and o.found_at <= 3 for o in rows):8} "
            f"{ratio([o.page_right for o in rows]):>10} {ratio([o.section_right for o in rows]):>13}"
        )
    found3 = sum(o.found_at is not None and o.found_at <= 3 for o in outcomes)
    print(f"\nfound@3: {found3}/{len(outcomes)} = {found3 / max(1, len(outcomes)):.1%}")
    print(f"spans exact: {sum(spans)}/{len(spans)}")
    print(f"needs OCR, reported as skipped: {ocr_reported}/{len(ocr)}")
    print(f"\n{'format':8} {'files':>5} {'ms/file':>8} {'ms/page':>8}")
    for fmt, row in times.items():
        per_page = f"{row['ms_per_page']:8.1f}" if fmt == "pdf" else f"{'':8}"
        print(f"{fmt:8} {row['files']:5} {row['ms_per_file']:8.1f} {per_page}")
    misses = [o for o in outcomes if o.found_at is None or o.page_right is False or o.section_right is False]
    if misses:
        print("\nmissed or mis-cited:")
        for o in misses:
            print(
                f"  {o.id}: found at {o.found_at}, page {o.page_right}, section {o.section_right}; top: {o.cited[:3]}"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "questions": len(questions),
                    "found_at_3": found3,
                    "answerable": len(outcomes),
                    "spans_exact": sum(spans),
                    "spans": len(spans),
                    "ocr_reported": ocr_reported,
                    "build_seconds": build_seconds,
                    "resync_seconds": resync_seconds,
                    "extraction": times,
                    "outcomes": [o.__dict__ for o in outcomes],
                },
                indent=2,
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
