"""``rag eval`` as one library call: what the dataset is (a BEIR folder or a question file), which variants to
score, scoring each on the same data and index, and writing the requested run files and reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.batch import read_questions
from rag.errors import InvalidInputError
from rag.eval.datasets import is_beir_folder, load_beir
from rag.eval.evaluation import EvalReport, ScoredDoc, Variant, evaluate_beir, evaluate_questions, write_trec_run
from rag.eval.report import write_markdown_report
from rag.search.searcher import Searcher
from rag.settings import Settings
from rag.types import MODES


@dataclass(frozen=True)
class EvalRequest:
    """What ``rag eval DATASET`` was asked for."""

    dataset: Path
    index_dir: Path | None = None
    k: int = 100
    split: str = "test"
    modes: str | None = None
    """Comma-separated variants (``hybrid``, ``dense+rerank``, ...), ``all``, or None for the settings' mode."""
    run_out: Path | None = None
    report: Path | None = None


@dataclass(frozen=True)
class EvalOutcome:
    """One variant's evaluation, its TREC run (BEIR only) and the files written for it."""

    variant: Variant
    report: EvalReport
    run: list[ScoredDoc] | None
    written: list[Path]


def variants_for(modes: str | None, settings: Settings) -> list[Variant]:
    """The variants ``modes`` names; ``all`` is every mode (and hybrid+rerank with a cross-encoder)."""
    if modes is None:
        return [Variant(settings.mode, settings.reranker is not None)]
    if modes.strip() == "all":
        names = [*MODES] + (["hybrid+rerank"] if settings.reranker else [])
    else:
        names = [m for m in modes.split(",") if m.strip()]
    return [Variant.parse(name) for name in names]


def run_evaluation(request: EvalRequest, settings: Settings, *, progress: bool = False) -> list[EvalOutcome]:
    """Score every variant of ``request`` on its dataset, then write the run files and reports it asks for (one
    per variant, named ``NAME.VARIANT.EXT``, when there are several)."""
    variants = variants_for(request.modes, settings)
    dataset = request.dataset
    runs: Sequence[list[ScoredDoc] | None]
    if is_beir_folder(dataset):
        beir = load_beir(dataset, request.split)
        scored = evaluate_beir(
            beir, settings, index_root=request.index_dir or settings.index_dir, k=request.k, variants=variants,
            progress=progress,
        )  # fmt: skip
        reports, runs = [r for r, _ in scored], [run for _, run in scored]
    elif dataset.is_file():
        if request.run_out:
            raise InvalidInputError("--run-out writes document runs for BEIR folders; a question file has no qrels")
        questions = read_questions(dataset)
        with Searcher.open(settings, request.index_dir) as searcher:
            reports = [
                evaluate_questions(questions, searcher, name=dataset.name, k=request.k, variant=v, progress=progress)
                for v in variants
            ]
        runs = [None] * len(reports)
    else:
        raise InvalidInputError(
            f"{dataset} is neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) nor a question file"
        )
    several = len(variants) > 1
    outcomes = []
    for variant, report, run in zip(variants, reports, runs, strict=True):
        written = []
        if request.run_out and run is not None:
            path = _per_variant(request.run_out, variant.name, several)
            write_trec_run(run, path, tag=f"rag-{variant.name}")
            written.append(path)
        if request.report:
            path = _per_variant(request.report, variant.name, several)
            written += [path, write_markdown_report(report, path)]
        outcomes.append(EvalOutcome(variant, report, run, written))
    return outcomes


def _per_variant(path: Path, variant: str, several: bool) -> Path:
    """``run.trec`` -> ``run.hybrid.trec`` when several variants are written."""
    return path.with_name(f"{path.stem}.{variant}{path.suffix}") if several else path
