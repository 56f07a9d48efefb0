"""Recall of the approximate (HNSW) dense search at a million passages, on the real model's vectors of real text.

Usage:
    python benchmarks/ann_recall.py gather [--work DIR] [--count 1000000] [--roots DIR ...]
    python benchmarks/ann_recall.py embed  [--work DIR]        # resumable; the model and backend from RAG_* settings
    python benchmarks/ann_recall.py measure [--work DIR] [--questions FILE ...]

``benchmarks/scale.py`` times a million passages with a random-weight stand-in model, whose vectors have no
neighbourhood structure: every vector is about as far from a question as every other, the hardest case there is for
a graph index, and its recall says nothing about real vectors. This benchmark measures recall where it matters.
``gather`` cuts the prose and code this machine holds (documentation and docstrings of the Python installation and
its packages, /usr/share/doc and /usr/share/man, plus any folders given, such as the BEIR corpora) into distinct
passages of at most about 40 tokens, deduplicated, shuffled with a fixed seed; the last 1,000 are held out as
questions that look like the corpus. ``embed`` turns them into the configured model's passage vectors, written as
they come so that a stopped run resumes. ``measure`` builds the HNSW graph exactly as an index segment does
(``rag.index.vectors.build_graph`` with the settings' M and efConstruction), then compares its top 10 with exact
search for the held-out passages and for real questions (one per line, or the ``question``/``text`` field of JSON
lines), unfiltered and with half of the passages filtered out, for several efSearch values, with the latency of one
search in one thread as the service runs it.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import logging
import os
import random
import re
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HELD_OUT = 1_000
PASSAGE_CHARS = 160
"""About 40 tokens of English prose (code and manual pages run longer: inputs are cut at ``MAX_TOKENS``). Shorter
than the chunker's passages so that a million of them embed in under an hour on 2 cores; sentence-sized texts
spread wider in the vector space than passages, which if anything makes a graph index's job harder."""
MAX_TOKENS = 48
TEXT_SUFFIXES = {".md", ".rst", ".txt"}
"""Read whole, as are ``.jsonl`` (their ``text`` fields) and gzipped changelogs and manual pages."""


def default_roots() -> list[Path]:
    roots = {
        Path(sysconfig.get_paths()["stdlib"]),
        Path(sysconfig.get_paths()["purelib"]),
        Path("/usr/share/doc"),
        Path("/usr/share/man"),
    }
    return sorted(root for root in roots if root.exists())


def file_texts(roots: list[Path]) -> Iterator[str]:
    """Prose of every readable text file under ``roots`` (docstrings of Python files, then their code), in a fixed
    order."""
    codes: list[Path] = []
    for root in roots:
        for folder, subfolders, names in os.walk(root):
            subfolders.sort()
            for name in sorted(names):
                path = Path(folder, name)
                if path.suffix in TEXT_SUFFIXES or path.suffix in (".jsonl", ".gz"):
                    yield from _read_text(path)
                elif path.suffix == ".py":
                    codes.append(path)
                    yield from _docstrings(path)
    for path in codes:  # code comes last: prose first, code only to make up the count
        yield from _read_text(path)


def _read_text(path: Path) -> Iterator[str]:
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError):
        return
    if path.suffix == ".gz":  # changelogs and manual pages: drop roff requests
        text = "\n".join(line for line in text.splitlines() if not line.startswith((".", "'\\\"")))
    if path.suffix == ".jsonl":  # BEIR corpora and question sets: their text fields
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                return
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                yield record["text"]
        return
    yield text


def _docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError, RecursionError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node)
            if docstring:
                yield docstring


def passages_of(text: str) -> Iterator[str]:
    """Paragraphs joined or cut at whitespace to at most ``PASSAGE_CHARS``, those with little text dropped."""
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        while len(paragraph) > PASSAGE_CHARS:
            cut = paragraph.rfind(" ", PASSAGE_CHARS // 2, PASSAGE_CHARS)
            cut = cut if cut > 0 else PASSAGE_CHARS
            yield from _kept(paragraph[:cut])
            paragraph = paragraph[cut:].strip()
        if len(current) + len(paragraph) + 1 > PASSAGE_CHARS:
            yield from _kept(current)
            current = ""
        current = f"{current} {paragraph}".strip()
    yield from _kept(current)


def _kept(passage: str) -> Iterator[str]:
    letters = sum(c.isalpha() for c in passage)
    if len(passage) >= 40 and letters >= 0.5 * len(passage):
        yield passage


def gather(work: Path, count: int, roots: list[Path]) -> None:
    seen: set[bytes] = set()
    passages: list[str] = []
    for text in file_texts(roots):
        for passage in passages_of(text):
            key = hashlib.blake2b(passage.lower().encode(), digest_size=12).digest()
            if key not in seen:
                seen.add(key)
                passages.append(passage)
        if len(passages) >= count + HELD_OUT:
            break
    if len(passages) < count + HELD_OUT:
        raise SystemExit(f"only {len(passages):,} distinct passages under {roots}; give more --roots")
    random.Random(0).shuffle(passages)
    work.mkdir(parents=True, exist_ok=True)
    with (work / "passages.jsonl").open("w", encoding="utf-8") as out:
        for passage in passages[: count + HELD_OUT]:
            out.write(json.dumps(passage) + "\n")
    print(f"{count + HELD_OUT:,} passages ({HELD_OUT:,} held out) in {work / 'passages.jsonl'}")


def read_passages(work: Path) -> list[str]:
    with (work / "passages.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def embed(work: Path, batch: int = 4096) -> None:
    """Passage vectors as the index makes them (the model's document encoding, normalised), appended to
    ``vectors.f32`` batch by batch; a rerun continues where the file ends."""
    from tqdm import tqdm

    from rag.embedding import Embedder
    from rag.settings import Settings

    texts = read_passages(work)
    embedder = Embedder.from_settings(Settings())
    embedder.model.max_seq_length = MAX_TOKENS
    path = work / "vectors.f32"
    row_bytes = embedder.dimension * 4
    done = path.stat().st_size // row_bytes if path.exists() else 0
    with path.open("r+b" if path.exists() else "wb") as out:
        out.truncate(done * row_bytes)
        out.seek(done * row_bytes)
        started = time.perf_counter()
        with tqdm(total=len(texts), initial=done, unit="passage", desc=f"embedding ({embedder.vectors_of})") as bar:
            for first in range(done, len(texts), batch):
                chunk = texts[first : first + batch]
                vectors = embedder.model.encode_document(
                    chunk, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False
                )
                out.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
                out.flush()
                bar.update(len(chunk))
    rate = (len(texts) - done) / max(time.perf_counter() - started, 1e-9)
    (work / "embedded.json").write_text(
        json.dumps({"vectors_of": embedder.vectors_of, "dimension": embedder.dimension, "passages_per_s": rate})
    )
    print(f"{len(texts):,} vectors ({embedder.vectors_of}), {rate:.0f} passages/s in this run")


def read_questions(paths: list[Path]) -> list[str]:
    questions = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            if path.suffix == ".jsonl":
                record = json.loads(line)
                line = record.get("question") or record.get("text") or ""
            questions.append(line.strip())
    return [q for q in questions if q]


def exact_top(
    vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` scores and positions per query (inner product), over blocks of rows so that the score matrix
    stays small."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best = np.zeros((len(queries), k), dtype=np.int64)
    for first in range(0, len(vectors), 100_000):
        scores = queries @ np.asarray(vectors[first : first + 100_000]).T
        if allowed is not None:
            scores[:, ~allowed[first : first + 100_000]] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        merged = np.concatenate([best, top + first], axis=1)
        order = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores, best = np.take_along_axis(merged_scores, order, 1), np.take_along_axis(merged, order, 1)
    return best_scores, best


EPSILON = 1e-3
"""ann-benchmarks' tolerance: a returned neighbour within this distance of the 10th true one counts as found."""


def recall(got: np.ndarray, want: np.ndarray, got_scores: np.ndarray, floor: float, tolerance: float = 1e-6) -> float:
    """Share of the exact top 10 found; a returned passage whose exact score is within ``tolerance`` of the 10th
    counts as found (1e-6: exact ties only, as texts repeated across packages give identical vectors and which of
    them is "the" 10th is arbitrary; ``EPSILON``: ann-benchmarks' definition)."""
    hits = set(got.tolist()) & set(want.tolist())
    ties = sum(1 for position, score in zip(got.tolist(), got_scores, strict=True)
               if position not in hits and score >= floor - tolerance)  # fmt: skip
    return min(len(hits) + ties, len(want)) / len(want)


def measure(work: Path, question_files: list[Path], ef_values: list[int]) -> None:
    import faiss

    from rag.embedding import Embedder
    from rag.index.vectors import GRAPH_NAME, VECTORS_NAME, HnswParameters, SegmentVectors, build_graph
    from rag.settings import Settings

    settings = Settings()
    embedded = json.loads((work / "embedded.json").read_text())
    vectors = np.memmap(work / "vectors.f32", dtype=np.float32, mode="r").reshape(-1, embedded["dimension"])
    count = len(vectors) - HELD_OUT
    hnsw = HnswParameters(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search)
    segment = work / f"segment-m{hnsw.m}-ef{hnsw.ef_construction}-n{count}"
    built = None
    if not (segment / GRAPH_NAME).exists():
        segment.mkdir(exist_ok=True)
        with (segment / VECTORS_NAME).open("wb") as out:
            for first in range(0, count, 100_000):
                out.write(np.asarray(vectors[first : min(first + 100_000, count)]).tobytes())
        started = time.perf_counter()
        build_graph(segment, count, hnsw)
        built = time.perf_counter() - started
    graph_vectors = SegmentVectors.load(segment, count, hnsw)
    faiss.omp_set_num_threads(1)  # one search per thread, as the service runs it

    embedder = Embedder.from_settings(settings)
    query_sets = {"held-out passages": np.ascontiguousarray(vectors[count:], dtype=np.float32)}
    questions = read_questions(question_files)
    if questions:
        query_sets[f"{len(questions)} questions"] = embedder.embed_queries(questions, batch_size=64)
    corpus = graph_vectors.vectors
    rng = np.random.default_rng(0)
    half = rng.random(count) < 0.5
    rows = []
    for name, queries in query_sets.items():
        for filtered, allowed in (("none", None), ("half", half)):
            truth_scores, truth = exact_top(corpus, queries, 10, allowed)
            for ef in ef_values:
                graph_vectors.hnsw = HnswParameters(hnsw.m, hnsw.ef_construction, ef)
                found, near, times = [], [], []
                for query, want, floor in zip(queries, truth, truth_scores[:, -1], strict=True):
                    started = time.perf_counter()
                    _, got = graph_vectors.search(query, 10, allowed)
                    times.append(time.perf_counter() - started)
                    scores = corpus[got] @ query
                    found.append(recall(got, want, scores, floor))
                    near.append(recall(got, want, scores, floor, EPSILON))
                rows.append({"queries": name, "filter": filtered, "ef_search": ef,
                             "recall@10": float(np.mean(found)), "recall_eps": float(np.mean(near)),
                             "p5_recall": float(np.percentile(found, 5)),
                             "p50_ms": 1000 * float(np.median(times)),
                             "p95_ms": 1000 * float(np.percentile(times, 95))})  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
    exact_times = []
    for query in query_sets["held-out passages"][:50]:
        started = time.perf_counter()
        graph_vectors._search_exact(query, 10, None)
        exact_times.append(time.perf_counter() - started)
    print(f"\n{count:,} vectors ({embedded['vectors_of']}), HNSW M={hnsw.m} "
          f"efConstruction={hnsw.ef_construction}" + (f", built in {built:.0f} s" if built else "")
          + f"; exact search p50 {1000 * np.median(exact_times):.0f} ms")  # fmt: skip
    print("| queries | filter | efSearch | recall@10 | 5th percentile | recall@10, ε = 1e-3 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['queries']} | {row['filter']} | {row['ef_search']} | {row['recall@10']:.3f} | "
              f"{row['p5_recall']:.1f} | {row['recall_eps']:.3f} | {row['p50_ms']:.2f} | "
              f"{row['p95_ms']:.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["gather", "embed", "measure"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-ann"))
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--roots", type=Path, nargs="*", default=[])
    parser.add_argument("--questions", type=Path, nargs="*", default=[])
    parser.add_argument("--ef-search", type=int, nargs="+", default=[48, 96, 128, 192])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.step == "gather":
        gather(args.work, args.count, [*args.roots, *default_roots()])
    elif args.step == "embed":
        embed(args.work)
    else:
        measure(args.work, args.questions, args.ef_search)


if __name__ == "__main__":
    main()
