"""Evaluation: metric figures against hand computation, TREC runs read back by ir_measures, BEIR folders built
here (never ../shared), every variant (with reranking) in one run, the question-set scores on the seeds, reports,
and the paired comparison."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import ir_measures
import pytest
from conftest import DEV_QUESTIONS, run_rag
from ir_measures import Qrel, ScoredDoc

from rag.batch import read_questions
from rag.errors import InvalidInputError
from rag.eval.datasets import load_beir
from rag.eval.evaluation import (
    EvalReport,
    Timing,
    compare_reports,
    evaluate_questions,
    recall_curve,
    run_records,
    score_run,
    write_trec_run,
)
from rag.eval.report import format_comparison, write_markdown_report
from rag.search.searcher import Searcher

# q1 has two relevant documents, found at ranks 2 and 4; q2 one (graded 2) at rank 1; q3 is judged but
# retrieves nothing, so it counts as 0 everywhere.
TINY_QRELS = [Qrel("q1", "d1", 1), Qrel("q1", "d2", 1), Qrel("q2", "d3", 2), Qrel("q3", "d5", 1)]
TINY_RUN = [
    ScoredDoc("q1", "d3", 0.9),
    ScoredDoc("q1", "d1", 0.8),
    ScoredDoc("q1", "d4", 0.7),
    ScoredDoc("q1", "d2", 0.6),
    ScoredDoc("q2", "d3", 0.5),
]


def test_metrics_match_hand_computed_values() -> None:
    measures, per_query = score_run(TINY_QRELS, TINY_RUN, ["q1", "q2", "q3"])
    # q1: DCG = 1/log2(3) + 1/log2(5); ideal DCG = 1 + 1/log2(3).
    ndcg_q1 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert per_query["q1"]["nDCG@10"] == pytest.approx(ndcg_q1)
    assert per_query["q1"]["MRR@10"] == pytest.approx(1 / 2)
    assert per_query["q1"]["MAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert per_query["q1"]["R@10"] == pytest.approx(1.0)
    assert per_query["q2"] == pytest.approx({"nDCG@10": 1.0, "R@10": 1.0, "R@100": 1.0, "MRR@10": 1.0, "MAP": 1.0})
    assert per_query["q3"] == dict.fromkeys(per_query["q3"], 0.0)
    assert measures["nDCG@10"] == pytest.approx((ndcg_q1 + 1.0 + 0.0) / 3)
    assert measures["MRR@10"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert measures["MAP"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert measures["R@10"] == pytest.approx(2 / 3)
    assert measures["R@100"] == pytest.approx(2 / 3)


def test_recall_curve_matches_hand_computed_values() -> None:
    curve = recall_curve(TINY_QRELS, TINY_RUN, ["q1", "q2", "q3"])
    assert len(curve) == 100
    assert curve[1] == pytest.approx((0 + 1 + 0) / 3)
    assert curve[2] == pytest.approx((0.5 + 1 + 0) / 3)
    assert curve[3] == pytest.approx((0.5 + 1 + 0) / 3)
    assert curve[4] == pytest.approx((1 + 1 + 0) / 3)
    assert curve[100] == pytest.approx(2 / 3)


def test_run_records_keep_order_with_strictly_decreasing_scores() -> None:
    rankings = {"q1": [("a", 0.5), ("b", 0.5), ("c", 0.5000001), ("d", 0.2)], "q2": [("x", 0.9)]}
    run = run_records(rankings, k=3)
    q1 = [r for r in run if r.query_id == "q1"]
    assert [r.doc_id for r in q1] == ["a", "b", "c"]  # truncated at k, order kept
    assert [r.score for r in q1] == [0.5, 0.499999, 0.499998]
    assert [(r.doc_id, r.score) for r in run if r.query_id == "q2"] == [("x", 0.9)]


def test_trec_run_file_reads_back_with_the_same_figures(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "tiny.trec"
    write_trec_run(TINY_RUN, path, tag="test")
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 d3 1 0.900000 test"
    assert lines[3] == "q1 Q0 d2 4 0.600000 test"
    assert lines[4] == "q2 Q0 d3 1 0.500000 test"
    read_back = list(ir_measures.read_trec_run(str(path)))
    assert score_run(TINY_QRELS, read_back, ["q1", "q2", "q3"]) == score_run(TINY_QRELS, TINY_RUN, ["q1", "q2", "q3"])


def _report(name: str, values: list[float]) -> EvalReport:
    per_query = {f"q{i}": {"nDCG@10": v} for i, v in enumerate(values)}
    return EvalReport(
        dataset="data",
        kind="beir",
        split="test",
        settings={},
        measures={"nDCG@10": sum(values) / len(values)},
        per_query=per_query,
        recall_curve={1: 0.0},
        timing=Timing(1.0, False, len(values), 1.0),
    )


def test_comparison_reports_difference_and_paired_t_test() -> None:
    a, b = _report("a", [0.0, 0.0, 0.0, 0.0]), _report("b", [1.0, 2.0, 3.0, 4.0])
    (row,) = compare_reports(a, b)
    assert row.difference == pytest.approx(2.5)
    # Differences 1,2,3,4: mean 2.5, sd sqrt(5/3), t = 2.5 / (sd / 2) = 3.873 on 3 degrees of freedom.
    assert row.p_value == pytest.approx(0.030466, abs=1e-5)
    assert compare_reports(a, a)[0].p_value == 1.0
    text = format_comparison("a.json", "b.json", [row])
    assert "+2.5000" in text and "0.0305 *" in text


def test_comparison_refuses_different_data_sets() -> None:
    other = EvalReport.from_json(_report("b", [1.0, 2.0]).to_json().replace('"data"', '"other"'))
    with pytest.raises(InvalidInputError, match="cannot compare"):
        compare_reports(_report("a", [0.0, 1.0]), other)


# --- BEIR folders made here ---------------------------------------------------------------------------------

CORPUS = {
    "bread": ("Sourdough", "Sourdough bread rises because wild yeast and lactic acid bacteria ferment the dough."),
    "volcano": ("Volcanoes", "Magma erupts through a volcano's vent as lava, ash and volcanic gases."),
    "chess": ("Chess openings", "The Sicilian Defence answers White's king's pawn opening with the c-pawn."),
    "heart": ("The heart", "The heart pumps blood through arteries; the left ventricle has the thickest wall."),
    "tides": ("Tides", "Ocean tides are caused mainly by the gravitational pull of the Moon on the oceans."),
    "violin": ("Violins", "A violin has four strings tuned in fifths, played with a bow strung with horsehair."),
    "rust": ("Rust", "Iron rusts when it reacts with oxygen and water to form hydrated iron oxide."),
    "bees": ("Honey bees", "Worker honey bees perform a waggle dance to tell the hive where flowers are."),
}
QUERIES = {
    "1": "Why does sourdough bread rise?",
    "2": "What causes the tides of the ocean?",
    "3": "How do bees tell each other where the flowers are?",
    "4": "What makes iron rust?",
    "5": "An unjudged query that BEIR leaves out",
}
QRELS = {"test": [("1", "bread", 1), ("2", "tides", 1), ("3", "bees", 1), ("4", "rust", 1)], "dev": [("2", "tides", 1)]}


def make_beir_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    docs = [{"_id": i, "title": t, "text": x} for i, (t, x) in CORPUS.items()]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES.items()))
    (root / "qrels").mkdir()
    for split, rows in QRELS.items():
        text = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows)
        (root / "qrels" / f"{split}.tsv").write_text(text)
    return root


def test_load_beir_keeps_judged_queries_and_names_missing_splits(tmp_path: Path) -> None:
    folder = make_beir_folder(tmp_path / "tiny")
    dataset = load_beir(folder, "test")
    assert dataset.name == "tiny" and dataset.split == "test"
    assert list(dataset.queries) == ["1", "2", "3", "4"]
    assert dataset.qrels["2"] == {"tides": 1}
    assert list(load_beir(folder, "dev").queries) == ["2"]
    with pytest.raises(InvalidInputError, match=r"no qrels/train\.tsv.*available: dev, test"):
        load_beir(folder, "train")


rag = run_rag


@pytest.mark.slow
@pytest.mark.model
def test_rag_eval_on_a_beir_folder_writes_a_run_that_scores_the_same(tmp_path: Path) -> None:
    folder = make_beir_folder(tmp_path / "tiny")
    args = ["eval", str(folder), "--index", str(tmp_path / "vectors"), "-k", "5", "--json"]
    first = rag(*args, "--run-out", "out/run.trec", "--report", "out/report.md", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    printed = json.loads(first.stdout)
    assert printed["kind"] == "beir" and printed["split"] == "test"
    assert printed["timing"]["index_cached"] is False and printed["timing"]["queries"] == 4
    assert printed["index_counts"]["documents"] == len(CORPUS)
    # Distinct topics: the real model ranks each relevant document first.
    assert printed["measures"]["MRR@10"] == pytest.approx(1.0)
    assert printed["measures"]["R@10"] == pytest.approx(1.0)

    run = list(ir_measures.read_trec_run(str(tmp_path / "out" / "run.trec")))
    assert {r.query_id for r in run} == {"1", "2", "3", "4"}
    for qid in {r.query_id for r in run}:
        scores = [r.score for r in run if r.query_id == qid]
        assert len(scores) == 5 and all(a > b for a, b in itertools.pairwise(scores))
    qrels = [Qrel(q, d, s) for q, d, s in QRELS["test"]]
    library = ir_measures.calc_aggregate([ir_measures.parse_measure(m) for m in ("nDCG@10", "AP", "RR@10")], qrels, run)
    assert printed["measures"]["nDCG@10"] == pytest.approx(library[ir_measures.parse_measure("nDCG@10")], abs=1e-12)
    assert printed["measures"]["MAP"] == pytest.approx(library[ir_measures.parse_measure("AP")], abs=1e-12)

    report = (tmp_path / "out" / "report.md").read_text()
    assert "# Evaluation: tiny (split `test`)" in report and "| nDCG@10 |" in report
    assert "![recall@k](report-recall.png)" in report
    assert (tmp_path / "out" / "report-recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    second = rag(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["timing"]["index_cached"] is True
    assert again["measures"] == printed["measures"]

    table = rag("eval", str(folder), "--index", str(tmp_path / "vectors"), "--split", "dev", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "tiny (beir, split dev): 1 queries" in table.stdout and "nDCG@10" in table.stdout
    assert "cached, not rebuilt" in table.stdout


def test_rag_eval_compare_shows_both_runs(tmp_path: Path) -> None:
    for name, values in {"a": [0.2, 0.4, 0.6], "b": [0.3, 0.6, 0.7]}.items():
        (tmp_path / f"{name}.json").write_text(_report(name, values).to_json())
    result = rag("eval", "--compare", "a.json", "b.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "A: a.json" in result.stdout and "B: b.json" in result.stdout
    assert "nDCG@10" in result.stdout and "+0.1333" in result.stdout


def test_rag_eval_errors_are_clear(tmp_path: Path) -> None:
    missing = rag("eval", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode != 0 and "neither a BEIR folder" in missing.stderr
    folder = make_beir_folder(tmp_path / "tiny")
    split = rag("eval", str(folder), "--split", "train", cwd=tmp_path)
    assert split.returncode == 1 and "no qrels/train.tsv" in split.stderr and "Traceback" not in split.stderr


@pytest.mark.slow  # two rag subprocesses that load a model
def test_rag_eval_compares_every_variant_in_one_run(tmp_path: Path, tiny_cross_encoder, standin_env) -> None:
    folder = make_beir_folder(tmp_path / "tiny")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | standin_env
    env |= {"RAG_RERANKER": str(tiny_cross_encoder)}
    args = ["eval", str(folder), "--index", str(tmp_path / "vectors"), "-k", "5", "--mode", "all"]
    table = subprocess.run(
        [sys.executable, "-m", "rag", *args, "--run-out", "run.trec"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    rows = [line.split()[0] for line in table.stdout.splitlines() if line.split()[:1]]
    assert {"dense", "bm25", "hybrid", "hybrid+rerank"} <= set(rows)
    assert "hybrid vs dense: nDCG@10" in table.stdout and "paired t-test p =" in table.stdout
    for variant in ("dense", "hybrid", "hybrid+rerank"):
        assert (tmp_path / f"run.{variant}.trec").read_text().count(" Q0 ") == 4 * 5
    # BM25 returns only documents that share a term with the query: here, the one relevant document each.
    assert (tmp_path / "run.bm25.trec").read_text().count(" Q0 ") == 4
    printed = subprocess.run(
        [sys.executable, "-m", "rag", *args[:-1], "dense,bm25", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    reports = json.loads(printed.stdout)
    assert [r["settings"]["mode"] for r in reports] == ["dense", "bm25"]
    assert reports[1]["measures"]["MRR@10"] == pytest.approx(1.0)  # the queries share words with their documents


# --- question sets -----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.model
def test_question_set_scores_follow_the_ranks_found(seed_searcher: Searcher) -> None:
    questions = read_questions(DEV_QUESTIONS)
    report = evaluate_questions(questions, seed_searcher, name="seeds_dev", k=10)
    assert report.kind == "questions" and report.timing.queries == len(questions)
    ranks = {qid: int(v["answer_rank"]) for qid, v in report.per_query.items()}
    # Recompute each figure from the ranks, and each rank from the passages returned.
    for question in questions:
        hits = seed_searcher.search(question.question, 10)
        found = next((h.rank for h in hits if any(a in h.text for a in question.answers)), 0)
        assert ranks[question.id] == found
    for cutoff in (1, 3, 5, 10):
        expected = sum(1 for r in ranks.values() if 0 < r <= cutoff) / len(ranks)
        assert report.measures[f"answer_recall@{cutoff}"] == pytest.approx(expected)
    assert report.measures["answer_MRR"] == pytest.approx(sum(1 / r for r in ranks.values() if r) / len(ranks))
    assert report.measures["answer_recall@10"] >= 0.9  # the dense baseline finds 14 of 15 in the top 3
    assert report.measures["source_recall@10"] == pytest.approx(1.0)
    assert [f.query_id for f in report.failures] == sorted(
        (q for q, r in ranks.items() if r != 1), key=lambda q: (ranks[q] > 0, -ranks[q], q)
    )
    assert report.recall_curve[10] == pytest.approx(report.measures["answer_recall@10"])


def test_question_set_report_and_errors(standin_searcher: Searcher, tmp_path: Path) -> None:
    seed_searcher = standin_searcher
    report = evaluate_questions(read_questions(DEV_QUESTIONS), seed_searcher, name="seeds_dev", k=5)
    plot = write_markdown_report(report, tmp_path / "seeds.md")
    text = (tmp_path / "seeds.md").read_text()
    assert "| answer_recall@5 |" in text and "answer rank" in text
    assert plot.name == "seeds-recall.png" and plot.stat().st_size > 1000
    assert EvalReport.from_json(report.to_json()) == report
    unanswerable = tmp_path / "plain.jsonl"
    unanswerable.write_text('{"question": "What is there?"}\n')
    with pytest.raises(InvalidInputError, match="no question has"):
        evaluate_questions(read_questions(unanswerable), seed_searcher, name="plain")
