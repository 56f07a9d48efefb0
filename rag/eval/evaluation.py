"""Evaluation: score retrieval on a BEIR data set (with ir_measures) or on a question set with expected answers,
write TREC runs, and compare two evaluations with a paired significance test.

Metric arithmetic is left to ir_measures (pytrec_eval underneath); this module only runs the retrieval, turns it
into standard run records, and keeps the per-query figures needed for failure analysis and significance tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

import ir_measures
from ir_measures import AP, RR, R, ScoredDoc, nDCG
from tqdm.auto import tqdm

from rag.batch import Answered, Question, answer_questions
from rag.embedding import Embedder
from rag.errors import IndexNotFoundError, InvalidInputError, RagError
from rag.eval.datasets import BeirDataset
from rag.eval.ranking import DocumentRanker
from rag.index.build import build_index
from rag.index.embedding_cache import CACHE_NAME
from rag.index.manifest import ChunkingInfo, LexicalInfo, read_manifest
from rag.index.reader import open_index
from rag.search.answerability import answerable
from rag.search.rerank import Reranker
from rag.search.searcher import Searcher
from rag.settings import Settings
from rag.types import MODES, Hit

logger = logging.getLogger(__name__)

MEASURES = {"nDCG@10": nDCG @ 10, "R@10": R @ 10, "R@100": R @ 100, "MRR@10": RR @ 10, "MAP": AP}
"""Reported IR measures, by the names people compare (MRR@10 is ir_measures' RR@10, MAP its AP)."""
PRIMARY = "nDCG@10"
CURVE_DEPTH = 100
QUERY_BATCH = 64


@dataclass(frozen=True)
class Timing:
    index_seconds: float
    index_cached: bool
    queries: int
    search_seconds: float

    @property
    def queries_per_second(self) -> float:
        return self.queries / self.search_seconds if self.search_seconds > 0 else 0.0


@dataclass(frozen=True)
class Failure:
    """A query that went badly: what it asked, what was expected, what came back."""

    query_id: str
    query: str
    score: float
    expected: list[str]
    retrieved: list[dict[str, Any]]


@dataclass(frozen=True)
class EvalReport:
    """One evaluation: the figures, the per-query values behind them, and how it was run."""

    dataset: str
    kind: str
    """``beir`` (documents judged by qrels) or ``questions`` (answers that must appear in a passage)."""
    split: str | None
    settings: dict[str, Any]
    measures: dict[str, float]
    per_query: dict[str, dict[str, float]]
    recall_curve: dict[int, float]
    timing: Timing
    index_counts: dict[str, int] = field(default_factory=dict)
    """Documents and chunks in the index searched."""
    failures: list[Failure] = field(default_factory=list)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["timing"]["queries_per_second"] = self.timing.queries_per_second
        return json.dumps(payload, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> EvalReport:
        raw = json.loads(text)
        raw["timing"].pop("queries_per_second", None)
        return cls(
            dataset=raw["dataset"],
            kind=raw["kind"],
            split=raw.get("split"),
            settings=raw["settings"],
            measures=raw["measures"],
            per_query=raw["per_query"],
            recall_curve={int(k): v for k, v in raw["recall_curve"].items()},
            timing=Timing(**raw["timing"]),
            index_counts=dict(raw.get("index_counts", {})),
            failures=[Failure(**f) for f in raw.get("failures", [])],
        )


@dataclass(frozen=True)
class Variant:
    """One way of retrieving that an evaluation scores: a mode, with or without the cross-encoder."""

    mode: str
    rerank: bool = False

    @property
    def name(self) -> str:
        return f"{self.mode}+rerank" if self.rerank else self.mode

    @classmethod
    def parse(cls, name: str) -> Variant:
        mode, _, extra = name.strip().partition("+")
        if mode not in MODES or extra not in ("", "rerank"):
            choices = ", ".join([*MODES, *(f"{m}+rerank" for m in MODES)])
            raise InvalidInputError(f"unknown retrieval variant {name!r}; choose from {choices}")
        return cls(mode, extra == "rerank")


def index_settings(settings: Settings) -> dict[str, Any]:
    """The settings an index is built with: a change needs a new index."""
    lexical = {f"bm25_{k}": v for k, v in asdict(LexicalInfo.from_settings(settings)).items() if k != "language"}
    return {"model": settings.model} | asdict(ChunkingInfo.from_settings(settings)) | lexical


def settings_summary(settings: Settings, variant: Variant) -> dict[str, Any]:
    """The settings that change retrieval results (what a comparison must show)."""
    summary = index_settings(settings) | {"mode": variant.name}
    if variant.mode == "hybrid":
        summary["fusion"] = settings.fusion
        summary |= {"dense_weight": settings.fusion_dense_weight} if settings.fusion != "rrf" else {}
        if settings.fusion == "evidence":
            summary |= {
                "evidence_range": [settings.fusion_evidence_low, settings.fusion_evidence_high],
                "document_weight": settings.fusion_document_weight,
            }
        summary |= {"rrf_k": settings.rrf_k} if settings.fusion == "rrf" else {}
        summary["fusion_depth"] = settings.fusion_depth
    if variant.rerank:
        summary |= {"reranker": settings.reranker, "rerank_depth": settings.rerank_depth}
    return summary


# --- BEIR ---------------------------------------------------------------------------------------------------


def cached_index_dir(dataset: BeirDataset, settings: Settings, root: Path) -> Path:
    """Where the index of this corpus under these settings is cached: a new corpus or setting, a new folder."""
    key = hashlib.sha256(json.dumps(index_settings(settings), sort_keys=True).encode()).hexdigest()[:10]
    return root / "eval" / f"{dataset.name}-{dataset.corpus_checksum()[:12]}-{key}"


def ensure_beir_index(
    dataset: BeirDataset, settings: Settings, root: Path, embedder: Embedder, *, progress: bool = False
) -> tuple[Path, float, bool]:
    """The cached index of the data set's corpus, built if missing; returns (folder, build seconds, was cached)."""
    folder = cached_index_dir(dataset, settings, root)
    try:
        manifest = read_manifest(folder)
        open_index(folder, settings).close()  # checks model and checksums
        logger.info("using cached index %s", folder)
        return folder, manifest.build_seconds, True
    except IndexNotFoundError:
        pass
    except RagError as exc:
        logger.warning("cached index %s unusable (%s); rebuilding", folder, exc)
    # One embedding cache for every cached evaluation index: other BM25 settings re-use the vectors.
    shared_cache = root / "eval" / CACHE_NAME
    report = build_index(
        [dataset.corpus], settings, index_dir=folder, embedder=embedder, progress=progress, cache_path=shared_cache
    )
    return folder, report.seconds, False


def evaluate_beir(
    dataset: BeirDataset,
    settings: Settings,
    *,
    index_root: Path,
    k: int = 100,
    variants: Sequence[Variant] = (),
    embedder: Embedder | None = None,
    progress: bool = False,
) -> list[tuple[EvalReport, list[ScoredDoc]]]:
    """Index the corpus (or reuse the cached index), rank documents for every judged query with each variant
    (default: the mode in ``settings``), and score each run. The models load once for all variants."""
    variants = list(variants) or [Variant(settings.mode, settings.reranker is not None)]
    embedder = embedder or Embedder.from_settings(settings)
    reranker = _reranker_for(variants, settings)
    folder, index_seconds, cached = ensure_beir_index(dataset, settings, index_root, embedder, progress=progress)
    qrels = [ir_measures.Qrel(q, d, rel) for q, docs in dataset.qrels.items() for d, rel in docs.items()]
    query_ids = list(dataset.queries)
    results = []
    with Searcher(open_index(folder, settings), embedder, settings, reranker) as searcher:
        ranker = DocumentRanker(searcher.retriever)
        for variant in variants:
            started = time.perf_counter()
            rankings: dict[str, list[tuple[str, float]]] = {}
            with tqdm(total=len(query_ids), desc=variant.name, unit="q", disable=not progress) as bar:
                for first in range(0, len(query_ids), QUERY_BATCH):
                    batch = query_ids[first : first + QUERY_BATCH]
                    texts = [dataset.queries[q] for q in batch]
                    depth = max(k, CURVE_DEPTH)
                    ranked = ranker.rank(texts, depth, mode=variant.mode, rerank=variant.rerank)
                    rankings.update(zip(batch, ranked, strict=True))
                    bar.update(len(batch))
            search_seconds = time.perf_counter() - started
            run = run_records(rankings, k)
            measures, per_query = score_run(qrels, run, query_ids)
            report = EvalReport(
                dataset=dataset.name,
                kind="beir",
                split=dataset.split,
                settings=settings_summary(settings, variant) | {"k": k},
                measures=measures,
                per_query=per_query,
                recall_curve=recall_curve(qrels, run_records(rankings, CURVE_DEPTH), query_ids),
                timing=Timing(index_seconds, cached, len(query_ids), search_seconds),
                index_counts=dict(searcher.manifest.counts),
                failures=_beir_failures(dataset, per_query, rankings, searcher),
            )
            results.append((report, run))
    return results


def _reranker_for(variants: Sequence[Variant], settings: Settings) -> Reranker | None:
    if not any(v.rerank for v in variants):
        return None
    if not settings.reranker:
        raise InvalidInputError("a +rerank variant needs a cross-encoder: set RAG_RERANKER (see README)")
    return Reranker(settings.reranker, device=settings.device)


def run_records(rankings: dict[str, list[tuple[str, float]]], k: int) -> list[ScoredDoc]:
    """TREC-ready run records: top ``k`` per query with strictly decreasing scores.

    Scores are rounded to 6 decimals (what the run file holds) and nudged down by 1e-6 where a tie would
    otherwise let trec_eval reorder documents; metrics are computed on exactly these records.
    """
    run = []
    for query_id, ranked in rankings.items():
        previous = None
        for doc_id, score in ranked[:k]:
            value = round(score, 6)
            if previous is not None and value >= previous:
                value = round(previous - 1e-6, 6)
            run.append(ScoredDoc(query_id, doc_id, value))
            previous = value
    return run


def score_run(
    qrels: Sequence[ir_measures.Qrel], run: Sequence[ScoredDoc], query_ids: Sequence[str]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Aggregate and per-query values of ``MEASURES``; a judged query with no results counts as 0."""
    names = {measure: name for name, measure in MEASURES.items()}
    aggregate = ir_measures.calc_aggregate(list(MEASURES.values()), qrels, run)
    per_query = {q: dict.fromkeys(MEASURES, 0.0) for q in query_ids}
    for metric in ir_measures.iter_calc(list(MEASURES.values()), qrels, run):
        if metric.query_id in per_query:
            per_query[metric.query_id][names[metric.measure]] = float(metric.value)
    return {name: float(aggregate[measure]) for name, measure in MEASURES.items()}, per_query


def recall_curve(
    qrels: Sequence[ir_measures.Qrel], run: Sequence[ScoredDoc], query_ids: Sequence[str]
) -> dict[int, float]:
    """Mean recall@k for k = 1..100 (a judged query with no results counts as 0)."""
    measures = [R @ k for k in range(1, CURVE_DEPTH + 1)]
    totals = dict.fromkeys(range(1, CURVE_DEPTH + 1), 0.0)
    for metric in ir_measures.iter_calc(measures, qrels, run):
        totals[metric.measure.params["cutoff"]] += metric.value
    return {k: total / max(len(query_ids), 1) for k, total in totals.items()}


def _beir_failures(
    dataset: BeirDataset,
    per_query: dict[str, dict[str, float]],
    rankings: dict[str, list[tuple[str, float]]],
    searcher: Searcher,
    worst: int = 10,
) -> list[Failure]:
    ordered = sorted(per_query, key=lambda q: (per_query[q][PRIMARY], per_query[q]["R@100"], q))[:worst]
    failures = []
    for query_id in ordered:
        retrieved = []
        for doc_id, score in rankings[query_id][:5]:
            info = searcher.document(doc_id)
            text = searcher.document_text(doc_id)
            retrieved.append(
                {
                    "doc_id": doc_id,
                    "score": round(score, 4),
                    "relevant": dataset.qrels[query_id].get(doc_id, 0) > 0,
                    "title": info.title if info else None,
                    "snippet": text[:160],
                }
            )
        failures.append(
            Failure(
                query_id=query_id,
                query=dataset.queries[query_id],
                score=per_query[query_id][PRIMARY],
                expected=sorted(d for d, rel in dataset.qrels[query_id].items() if rel > 0),
                retrieved=retrieved,
            )
        )
    return failures


def write_trec_run(run: Sequence[ScoredDoc], path: Path, tag: str = "rag") -> None:
    """Write ``qid Q0 docid rank score tag`` lines (the format trec_eval and ir_measures read)."""
    lines = []
    rank_of: dict[str, int] = {}
    for record in run:
        rank_of[record.query_id] = rank_of.get(record.query_id, 0) + 1
        lines.append(f"{record.query_id} Q0 {record.doc_id} {rank_of[record.query_id]} {record.score:.6f} {tag}\n")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(lines), encoding="utf-8")


# --- question sets ------------------------------------------------------------------------------------------


def answer_rank(hits: Sequence[Hit], answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage that contains one of ``answers`` verbatim, or None."""
    for hit in hits:
        if any(answer in hit.text for answer in answers):
            return hit.rank
    return None


def source_rank(hits: Sequence[Hit], sources: Sequence[str]) -> int | None:
    """1-based rank of the first passage whose file name is one of ``sources``, or None."""
    names = {PurePath(s).name for s in sources}
    for hit in hits:
        if PurePath(hit.citation.source.split("#", 1)[0]).name in names:
            return hit.rank
    return None


def evaluate_questions(
    questions: Sequence[Question],
    searcher: Searcher,
    *,
    name: str,
    k: int = 10,
    variant: Variant | None = None,
    progress: bool = False,
) -> EvalReport:
    """Answer recall@k (an expected answer appears verbatim in a top-k passage), source recall@k and answer MRR;
    with questions marked unanswerable (``"answers": []``), the answerability verdict's accuracy over all scored
    questions, and its recall of each kind.

    Questions without ``answers`` (and not marked unanswerable) cannot be scored and are left out; source recall
    counts only questions that name their ``sources``.
    """
    scored = [q for q in questions if q.answers or q.unanswerable]
    if not scored:
        raise InvalidInputError(f'{name}: no question has "answers"; nothing to score')
    k = min(k, 100)
    cutoffs = sorted({1, 3, 5, 10, k} & set(range(1, k + 1)))
    started = time.perf_counter()
    variant = variant or Variant(searcher.settings.mode, searcher.reranker is not None)
    answered = list(answer_questions(searcher, scored, k, mode=variant.mode, rerank=variant.rerank, progress=progress))
    search_seconds = time.perf_counter() - started
    per_query = {a.question.id: _question_values(a, cutoffs) for a in answered}
    names = [f"answer_recall@{c}" for c in cutoffs] + [f"source_recall@{c}" for c in cutoffs] + ["answer_MRR"]
    if any(q.unanswerable for q in scored):
        names += ["verdict_accuracy", "verdict_answerable_recall", "verdict_unanswerable_recall"]
    measures = {}
    for measure in names:
        values = [v[measure] for v in per_query.values() if measure in v]
        if values:
            measures[measure] = sum(values) / len(values)
    ranks = [v["answer_rank"] for v in per_query.values() if "answer_rank" in v]
    failures = [
        Failure(
            query_id=a.question.id,
            query=a.question.question,
            score=per_query[a.question.id]["answer_rank"],
            expected=list(a.question.answers),
            retrieved=[
                {"rank": h.rank, "score": h.score, "source": h.citation.source, "snippet": h.text[:160]}
                for h in a.hits[:3]
            ],
        )
        for a in answered
        if per_query[a.question.id].get("answer_rank", 1) != 1
    ]
    failures.sort(key=lambda f: (f.score > 0, -f.score, f.query_id))
    return EvalReport(
        dataset=name,
        kind="questions",
        split=None,
        settings=settings_summary(searcher.settings, variant) | {"k": k},
        measures=measures,
        per_query=per_query,
        recall_curve={c: sum(1 for r in ranks if 0 < r <= c) / len(ranks) for c in range(1, k + 1)},
        timing=Timing(0.0, True, len(answered), search_seconds),
        index_counts=dict(searcher.manifest.counts),
        failures=failures[:10],
    )


def _question_values(answered: Answered, cutoffs: Sequence[int]) -> dict[str, float]:
    """Per-question values named like the measures they average into (``answer_rank`` 0: not in the top k); the
    verdict's for every question, answer ranks for answerable ones."""
    question = answered.question
    verdict = answerable(answered.hits)
    right = float(verdict is not None and verdict != question.unanswerable)
    kind = "verdict_unanswerable_recall" if question.unanswerable else "verdict_answerable_recall"
    values = {"verdict_right": right, "verdict_accuracy": right, kind: right}
    if question.unanswerable:
        return values
    found = answer_rank(answered.hits, question.answers) or 0
    values |= {"answer_rank": float(found), "answer_MRR": 1 / found if found else 0.0}
    values |= {f"answer_recall@{c}": float(0 < found <= c) for c in cutoffs}
    if question.sources:
        source = source_rank(answered.hits, question.sources) or 0
        values |= {f"source_recall@{c}": float(0 < source <= c) for c in cutoffs}
    return values


# --- comparison ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureComparison:
    measure: str
    a: float
    b: float
    p_value: float | None
    """Two-sided paired t-test over the queries both runs share; None where it is undefined."""

    @property
    def difference(self) -> float:
        return self.b - self.a


def compare_to_first(reports: Sequence[EvalReport]) -> list[MeasureComparison | None]:
    """For each report, its primary measure against the first report's (None for the first itself)."""
    rows: list[MeasureComparison | None] = [None]
    for report in reports[1:]:
        rows.append(next(c for c in compare_reports(reports[0], report) if c.measure == _primary(report)))
    return rows


def _primary(report: EvalReport) -> str:
    return PRIMARY if report.kind == "beir" else next(m for m in report.measures if m.startswith("answer_recall@"))


def compare_reports(a: EvalReport, b: EvalReport) -> list[MeasureComparison]:
    """Per-measure values of two evaluations of the same data, their difference, and a paired t-test."""
    from scipy.stats import ttest_rel

    if a.kind != b.kind or a.dataset != b.dataset:
        raise InvalidInputError(f"cannot compare {a.kind} {a.dataset!r} with {b.kind} {b.dataset!r}")
    shared = sorted(set(a.per_query) & set(b.per_query))
    if not shared:
        raise InvalidInputError("the two reports share no query ids")
    comparisons = []
    for measure in (m for m in a.measures if m in b.measures):
        queries = [q for q in shared if measure in a.per_query[q] and measure in b.per_query[q]]
        xs = [a.per_query[q][measure] for q in queries]
        ys = [b.per_query[q][measure] for q in queries]
        if len(queries) < 2:
            p_value = None
        elif xs == ys:
            p_value = 1.0
        else:
            p_value = float(ttest_rel(xs, ys).pvalue)
            p_value = None if math.isnan(p_value) else p_value
        comparisons.append(MeasureComparison(measure, a.measures[measure], b.measures[measure], p_value))
    return comparisons
