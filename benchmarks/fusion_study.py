"""Fusion methods compared on every BEIR dev set: nDCG@10, R@100 and a paired t-test against the shipped default.

Usage: python benchmarks/fusion_study.py [--index-root /tmp/rag-eval] [--sets scifact-train:train dbpedia-mini:test]

Each data set's index is the one ``rag eval`` builds (cached under ``--index-root``). For every judged query the
script scores every passage once, densely and by BM25, and every whole document by BM25 (the index's own document
BM25), then replays each fusion method on those scores: a method is a few lines of numpy, so twenty methods cost
one pass of the model. The shipped method is also run through ``rag``'s own retriever, and the two must agree
(printed as a check): the study measures the code that ships. Documents score as their best passage, as in
``rag eval``. nDCG@10 is computed as pytrec_eval does (linear gains).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import ttest_rel

from rag.embedding import Embedder
from rag.eval.datasets import load_beir
from rag.eval.evaluation import ensure_beir_index
from rag.eval.ranking import DocumentRanker
from rag.index.reader import open_index
from rag.runtime import configure_process
from rag.search.retriever import Retriever
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "beir"
DEPTH = 400  # what rag eval fuses at for 100 documents


@dataclass
class Scores:
    """One data set's full score matrices and judgements."""

    name: str
    dense: np.ndarray  # queries x passages
    bm25: np.ndarray  # queries x passages
    document_bm25: np.ndarray  # queries x documents (the index's document numbers)
    passage_document: np.ndarray  # passage position -> document number
    gains: np.ndarray  # queries x documents
    queries: list[str]
    query_vectors: np.ndarray
    passage_vectors: np.ndarray

    @property
    def documents(self) -> int:
        return self.gains.shape[1]


def load_scores(folder: Path, split: str, settings: Settings, embedder: Embedder, root: Path) -> tuple[Scores, float]:
    """Score matrices of one data set, and nDCG@10 of the shipped default through ``rag``'s own retriever."""
    dataset = load_beir(folder, split)
    index_dir, _, _ = ensure_beir_index(dataset, settings, root, embedder)
    qids = [q for q in dataset.queries if q in dataset.qrels]
    queries = [dataset.queries[q] for q in qids]
    with open_index(index_dir, settings) as index:
        documents = index.documents
        chunk_ids = index.ids[index.live]
        vectors = np.vstack([np.asarray(s.vectors.vectors) for s in index.segments])[index.live]
        query_vectors = embedder.embed_queries(queries, batch_size=64)
        dense = query_vectors @ vectors.T
        bm25 = np.vstack([index.lexical.bm25.scores(query)[index.live] for query in queries])
        document_bm25 = np.vstack([documents.scores(q) for q in queries])
        passage_document = documents.documents_of(chunk_ids)
        doc_number = {}
        for chunk_id, doc_id in index.store.chunk_doc_ids().items():
            doc_number[doc_id] = int(documents.documents_of(np.array([chunk_id]))[0])
        gains = np.zeros((len(qids), len(documents)))
        for row, qid in enumerate(qids):
            for doc_id, grade in dataset.qrels[qid].items():
                if doc_id in doc_number and grade > 0:
                    gains[row, doc_number[doc_id]] = grade
        ranker = DocumentRanker(Retriever(index, embedder, settings))
        shipped = ranker.rank(queries, 100, mode="hybrid")  # as rag eval ranks: 100 documents, fused at 400
        number_of = {d: n for d, n in doc_number.items()}
        check = []
        for row, ranked in enumerate(shipped):
            scores = np.full(len(documents), -np.inf)
            for place, (doc_id, _) in enumerate(ranked[:10]):
                scores[number_of[doc_id]] = -place
            check.append(ndcg10(scores, gains[row]))
    scores = Scores(dataset.name, dense, bm25, document_bm25, passage_document, gains, queries, query_vectors, vectors)
    return scores, float(np.mean(check))


def ndcg10(document_scores: np.ndarray, gains: np.ndarray) -> float:
    top = np.argsort(-document_scores, kind="stable")[:10]
    top = top[document_scores[top] > -np.inf]
    discount = 1 / np.log2(np.arange(2, 12))
    ideal = np.sort(gains)[::-1][:10]
    best = (ideal * discount[: len(ideal)]).sum()
    return float((gains[top] * discount[: len(top)]).sum() / best) if best > 0 else 0.0


def recall100(document_scores: np.ndarray, gains: np.ndarray) -> float:
    top = np.argsort(-document_scores, kind="stable")[:100]
    top = top[document_scores[top] > -np.inf]
    relevant = gains > 0
    return float(relevant[top].sum() / max(relevant.sum(), 1))


def best_of(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and values of the ``k`` largest, best first, ties by position."""
    k = min(k, len(values))
    idx = np.argpartition(-values, k - 1)[:k]
    idx = idx[np.lexsort((idx, -values[idx]))]
    return idx, values[idx]


def minmax(x: np.ndarray) -> np.ndarray:
    low, high = x.min(), x.max()
    return (x - low) / (high - low) if high - low > 1e-12 else np.ones_like(x)


def zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() or 1.0) if len(x) > 1 else np.zeros_like(x)


def dbsf(x: np.ndarray) -> np.ndarray:
    """Distribution-based score fusion: scaled over mean +- 3 standard deviations."""
    if len(x) < 2:
        return np.ones_like(x)
    low, high = x.mean() - 3 * x.std(), x.mean() + 3 * x.std()
    return (x - low) / max(high - low, 1e-9)


class Query:
    """One query's candidate lists, as the retriever would fetch them."""

    def __init__(self, s: Scores, row: int) -> None:
        self.s, self.row = s, row
        self.dense_ids, dense = best_of(s.dense[row], DEPTH)
        self.dense_scores = dense.astype(np.float64)
        ids, values = best_of(s.bm25[row], DEPTH)
        keep = values > 0
        self.bm25_ids, self.bm25_scores = ids[keep], values[keep].astype(np.float64)
        ids, values = best_of(s.document_bm25[row], DEPTH)
        keep = values > 0
        self.doc_ids, self.doc_scores = ids[keep], values[keep].astype(np.float64)

    def evidence(self, rank: int = 15) -> float:
        v = self.doc_scores
        if len(v) == 0:
            return 0.0
        return float((v[0] - (v[rank - 1] if len(v) >= rank else 0.0)) / v[0])

    def passages(self, dense_part: np.ndarray, bm25_part: np.ndarray) -> np.ndarray:
        """Passage scores from the two lists' parts (-inf for passages in neither list)."""
        out = np.zeros(self.s.dense.shape[1])
        present = np.zeros(len(out), bool)
        out[self.dense_ids] += dense_part
        present[self.dense_ids] = True
        out[self.bm25_ids] += bm25_part
        present[self.bm25_ids] = True
        return np.where(present, out, -np.inf)

    def documents(self, passage_scores: np.ndarray, second: float = 0.0) -> np.ndarray:
        """Each document's best passage score (plus ``second`` times its second best)."""
        out = np.full(self.s.documents, -np.inf)
        np.maximum.at(out, self.s.passage_document, passage_scores)
        if second:
            ranked = np.flatnonzero(passage_scores > -np.inf)
            ranked = ranked[np.argsort(-passage_scores[ranked], kind="stable")]
            docs = self.s.passage_document[ranked]
            seen = np.zeros(self.s.documents, dtype=int)
            runner_up = np.zeros(self.s.documents)
            for passage, doc in zip(ranked, docs, strict=True):
                seen[doc] += 1
                if seen[doc] == 2:
                    runner_up[doc] = passage_scores[passage]
            out = np.where(out > -np.inf, out + second * runner_up, out)
        return out


def fixed(norm: Callable, weight: float) -> Callable[[Query], np.ndarray]:
    return lambda q: q.documents(q.passages(weight * norm(q.dense_scores), (1 - weight) * norm(q.bm25_scores)))


def rrf(q: Query) -> np.ndarray:
    ranks = lambda n: 1.0 / (60 + np.arange(1, n + 1))  # noqa: E731
    return q.documents(q.passages(ranks(len(q.dense_ids)), ranks(len(q.bm25_ids))))


def top_gap_weight(q: Query) -> np.ndarray:
    """Each list weighted by how far its top stands above its own head: (s1 - mean s1..10) / std."""

    def gap(x: np.ndarray) -> float:
        head = x[:10]
        return float((head[0] - head.mean()) / (head.std() or 1.0)) if len(head) > 1 else 0.0

    gd, gb = gap(q.dense_scores), gap(q.bm25_scores)
    w = gd / (gd + gb) if gd + gb > 0 else 0.5
    return fixed(minmax, w)(q)


def agreement_weight(q: Query) -> np.ndarray:
    """Dense weight 0.5 when the lists' top-10 documents agree, up to 0.9 when they share none."""
    top = lambda ids: set(q.s.passage_document[ids[:30]].tolist()[:10])  # noqa: E731
    shared = len(top(q.dense_ids) & top(q.bm25_ids)) / 10
    return fixed(minmax, 0.9 - 0.4 * shared)(q)


def document_bm25_fusion(weight: float) -> Callable[[Query], np.ndarray]:
    """Document level: best dense passage fused with whole-document BM25 (min-max each)."""

    def method(q: Query) -> np.ndarray:
        dense = np.full(q.s.documents, -np.inf)
        np.maximum.at(dense, q.s.passage_document[q.dense_ids], q.dense_scores)
        out, present = np.zeros(q.s.documents), np.zeros(q.s.documents, bool)
        ids, values = best_of(dense, DEPTH)
        keep = values > -np.inf
        out[ids[keep]] += weight * minmax(values[keep])
        present[ids[keep]] = True
        out[q.doc_ids] += (1 - weight) * minmax(q.doc_scores)
        present[q.doc_ids] = True
        return np.where(present, out, -np.inf)

    return method


def evidence(
    low: float, high: float, document_weight: float, rank: int = 15, second: float = 0.0
) -> Callable[[Query], np.ndarray]:
    """The shipped method (rag.search.fusion.evidence_fusion), replayed; ``second``: documents also gain that
    share of their second-best passage."""

    def method(q: Query) -> np.ndarray:
        w = 0.5 * min(1.0, max(0.0, (q.evidence(rank) - low) / (high - low)))
        passage = q.passages((1 - w) * minmax(q.dense_scores), w * minmax(q.bm25_scores))
        present = passage > -np.inf
        dense = np.zeros(len(passage))
        dense[q.dense_ids] = minmax(q.dense_scores)
        best_dense = np.zeros(q.s.documents)
        np.maximum.at(best_dense, q.s.passage_document[present], dense[present])
        whole = np.zeros(q.s.documents)
        whole[q.doc_ids] = minmax(q.doc_scores)
        document = (1 - w) * best_dense + w * whole
        scores = document_weight * document[q.s.passage_document] + (1 - document_weight) * passage
        return q.documents(np.where(present, scores, -np.inf), second)

    return method


def with_dense_feedback(s: Scores, passages: int = 5, weight: float = 0.3) -> Scores:
    """Rocchio on the query vector: the question plus ``weight`` times the mean of its top dense passages."""
    top = np.argsort(-s.dense, axis=1)[:, :passages]
    moved = s.query_vectors + weight * s.passage_vectors[top].mean(axis=1)
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return Scores(**{**s.__dict__, "dense": moved @ s.passage_vectors.T})


def _only(q: Query, which: str) -> np.ndarray:
    out = np.full(q.s.dense.shape[1], -np.inf)
    ids, scores = (q.dense_ids, q.dense_scores) if which == "dense" else (q.bm25_ids, q.bm25_scores)
    out[ids] = scores
    return out


METHODS: dict[str, Callable[[Query], np.ndarray]] = {
    "dense": lambda q: q.documents(_only(q, "dense")),
    "bm25": lambda q: q.documents(_only(q, "bm25")),
    "min-max, dense weight 0.5 (previous default)": fixed(minmax, 0.5),
    "min-max, dense weight 0.8": fixed(minmax, 0.8),
    "reciprocal rank fusion, k 60": rrf,
    "z-scores, dense weight 0.6": fixed(zscore, 0.6),
    "DBSF, dense weight 0.6": fixed(dbsf, 0.6),
    "weight by each list's top gap": top_gap_weight,
    "weight by top-10 agreement (0.5-0.9)": agreement_weight,
    "document level: best dense + whole-document BM25, 0.5": document_bm25_fusion(0.5),
    "evidence ramp 0.3-0.4, no document term": evidence(0.3, 0.4, 0.0),
    "evidence ramp 0.2-0.3, document weight 0.69": evidence(0.2, 0.3, 0.69),
    "evidence ramp 0.3-0.4, document weight 0.5": evidence(0.3, 0.4, 0.5),
    "evidence ramp 0.3-0.4, document weight 0.69 (default)": evidence(0.3, 0.4, 0.69),
    "evidence ramp 0.3-0.4, document weight 0.8": evidence(0.3, 0.4, 0.8),
    "evidence ramp 0.3-0.4, rank 10, document weight 0.69": evidence(0.3, 0.4, 0.69, rank=10),
    "default, documents + 0.2 x their second-best passage": evidence(0.3, 0.4, 0.69, second=0.2),
}
FEEDBACK = "default on dense pseudo-relevance feedback (Rocchio, top 5, 0.3)"
DEFAULT = "evidence ramp 0.3-0.4, document weight 0.69 (default)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-root", type=Path, default=Path("/tmp/rag-eval"))
    parser.add_argument("--sets", nargs="*", default=["scifact-train:train", "dbpedia-mini:test"])
    args = parser.parse_args()
    settings = Settings()
    configure_process(settings)
    embedder = Embedder.from_settings(settings)
    for spec in args.sets:
        name, split = spec.split(":")
        s, shipped = load_scores(SHARED / name, split, settings, embedder, args.index_root)
        queries = [Query(s, row) for row in range(len(s.queries))]
        results = {}
        for method_name, method in METHODS.items():
            started = time.perf_counter()
            ranked = [method(q) for q in queries]
            ms = (time.perf_counter() - started) * 1000 / len(queries)
            ndcg = np.array([ndcg10(r, s.gains[i]) for i, r in enumerate(ranked)])
            rec = np.mean([recall100(r, s.gains[i]) for i, r in enumerate(ranked)])
            results[method_name] = (ndcg, rec, ms)
        moved = with_dense_feedback(s)
        ranked = [METHODS[DEFAULT](Query(moved, row)) for row in range(len(s.queries))]
        results[FEEDBACK] = (
            np.array([ndcg10(r, s.gains[i]) for i, r in enumerate(ranked)]),
            np.mean([recall100(r, s.gains[i]) for i, r in enumerate(ranked)]),
            float("nan"),
        )
        base = results[DEFAULT][0]
        print(f"\n{s.name}: {len(queries)} queries; shipped default through rag's retriever: {shipped:.4f}")
        print("(ms/q: the replay's numpy per query, not the service's latency)")
        print(f"{'method':58} {'nDCG@10':>8} {'R@100':>7} {'p vs default':>12} {'ms/q':>6}")
        for method_name, (ndcg, rec, ms) in results.items():
            p = "" if method_name == DEFAULT else f"{ttest_rel(ndcg, base).pvalue:.3g}"
            print(f"{method_name:58} {ndcg.mean():8.4f} {rec:7.4f} {p:>12} {ms:6.2f}")


if __name__ == "__main__":
    main()
