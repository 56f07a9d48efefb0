"""Measure the retrieval choices behind the defaults on a BEIR split: BM25 tokenisation and parameters, titles in
BM25, and how hybrid fuses the two lists. Each row changes one thing from the defaults.

Usage: python benchmarks/tune_retrieval.py [../shared/beir/scifact-train] [--split train]

The corpus index is the one ``rag eval`` caches under vectors/eval/ (built first if missing); BM25 variants are
rebuilt in memory from its stored passages, so only the first run embeds anything.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import ir_measures

from rag.embedding import Embedder
from rag.eval.datasets import load_beir
from rag.eval.evaluation import ensure_beir_index, run_records, score_run
from rag.eval.ranking import DocumentRanker
from rag.index.lexical import BM25, LexicalTokenizer, PostingsBuilder
from rag.index.reader import PassageSearch, open_index
from rag.search.searcher import Searcher
from rag.settings import Settings

BM25_VARIANTS = [
    ("defaults: stem, stop words, titles, k1 0.9, b 0.4", {}),
    ("no stemming", {"stem": False}),
    ("keep stop words", {"stopwords": False}),
    ("no titles", {"titles": False}),
    ("k1 1.2, b 0.75 (Lucene/bm25s defaults)", {"k1": 1.2, "b": 0.75}),
    ("k1 1.5, b 0.75", {"k1": 1.5, "b": 0.75}),
    ("k1 1.2, b 0.9", {"k1": 1.2, "b": 0.9}),
]
FUSION_VARIANTS = [
    ("defaults: minmax, dense weight 0.5", {}),
    ("minmax, dense weight 0.4", {"fusion_dense_weight": 0.4}),
    ("minmax, dense weight 0.6", {"fusion_dense_weight": 0.6}),
    ("minmax, dense weight 0.7", {"fusion_dense_weight": 0.7}),
    ("rrf, k 60", {"fusion": "rrf", "rrf_k": 60}),
    ("rrf, k 10", {"fusion": "rrf", "rrf_k": 10}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, nargs="?", default=Path("../shared/beir/scifact-train"))
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = Settings()
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder.from_settings(base)
    folder, _, _ = ensure_beir_index(dataset, base, base.index_dir, embedder, progress=True)
    qrels = [ir_measures.Qrel(q, d, rel) for q, docs in dataset.qrels.items() for d, rel in docs.items()]
    query_ids = list(dataset.queries)
    texts = [dataset.queries[q] for q in query_ids]

    def figures(rankings: list[list[tuple[str, float]]]) -> str:
        measures, _ = score_run(qrels, run_records(dict(zip(query_ids, rankings, strict=True)), 100), query_ids)
        return f"{measures['nDCG@10']:.4f}  {measures['R@100']:.4f}  {measures['MRR@10']:.4f}"

    index = open_index(folder, base)
    print(f"{'BM25 variant':<52}nDCG@10  R@100   MRR@10", flush=True)
    for label, change in BM25_VARIANTS:
        options = {"stem": True, "stopwords": True, "titles": True, "k1": base.bm25_k1, "b": base.bm25_b} | change
        tokenizer = LexicalTokenizer(base.language, stem=options["stem"], stopwords=options["stopwords"])
        postings = []
        for segment in index.segments:  # every position, in order: the index's masks keep deleted ones out
            builder = PostingsBuilder()
            rows = segment.store.db.execute(
                "SELECT d.title, c.text FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.chunk_id"
            )
            builder.add(tokenizer(f"{t}\n{x}" if options["titles"] and t else x) for t, x in rows)
            postings.append(builder.finish())
        index.lexical = PassageSearch(index, BM25(postings, tokenizer, k1=options["k1"], b=options["b"]))
        searcher = Searcher(index, embedder, base)
        print(f"{label:<52}{figures(DocumentRanker(searcher.retriever).rank(texts, 100, mode='bm25'))}", flush=True)
    print(f"\n{'hybrid variant':<52}nDCG@10  R@100   MRR@10", flush=True)
    for label, change in FUSION_VARIANTS:
        settings = base.model_copy(update=change)
        searcher = Searcher(index, embedder, settings)
        print(f"{label:<52}{figures(DocumentRanker(searcher.retriever).rank(texts, 100, mode='hybrid'))}", flush=True)
    index.close()


if __name__ == "__main__":
    main()
