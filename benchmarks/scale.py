"""Growth: what the index costs at 10k, 100k and 1M passages, everything but the model measured.

Usage: python benchmarks/scale.py [--sizes 10000 100000 1000000] [--work DIR] [--queries 60]

For each size it generates a corpus of text files (Zipf-distributed words of the model's vocabulary, ten
passages a file, a date header, 100 folders), and indexes it with a stand-in model: the real model's tokenizer
and dimension (384), random token embeddings and no layer, which cost almost nothing (``tests/standin.py``).
Each build and update runs in its own process, whose peak memory (ru_maxrss) is reported. Then it prints, per
size: full build time and peak memory, the time to update after 1 file and after 1% of the files changed, the
time to open the index, query p50/p95 per mode without and with a source or date filter, and recall@10 of the
approximate (HNSW) search against exact search on the same vectors, unfiltered and under a filter (the stand-in's
vectors have no neighbourhood structure, so this recall says little: ``benchmarks/ann_recall.py`` measures it on
a million real-model vectors). Last, the real model's passages per second on this machine, to project the build
time with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS_PER_FILE = 700
"""About ten passages of 96 tokens."""


def vocabulary() -> list[str]:
    """The whole words of the model's WordPiece vocabulary (one token each, as most English words are), in a fixed
    shuffled order: the Zipf ranks below do not follow the vocabulary's own order."""
    from rag.embedding import resolve_model_path
    from rag.settings import DEFAULT_MODEL

    lines = (Path(resolve_model_path(DEFAULT_MODEL)) / "vocab.txt").read_text(encoding="utf-8").splitlines()
    words = [w for w in lines if w.isalpha() and w.isascii() and len(w) >= 3]
    random.Random(0).shuffle(words)
    return words


def generate(corpus: Path, files: int, seed: int = 0) -> None:
    """``files`` text files of about ten passages each, in 100 folders, each with a date header; words drawn with
    Zipf's law (a few everywhere, most rare)."""
    words = vocabulary()
    weights = 1.0 / np.arange(1, len(words) + 1)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(words), size=(files, WORDS_PER_FILE), p=weights / weights.sum())
    for n in range(files):
        folder = corpus / f"part{n % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        day = date.fromordinal(date(2020, 1, 1).toordinal() + n % 1500).isoformat()
        sentences = [" ".join(words[i] for i in picks[n, s : s + 14]).capitalize() + "." for s in
                     range(0, WORDS_PER_FILE, 14)]  # fmt: skip
        (folder / f"doc{n:07d}.txt").write_text(f"date {day}\n" + " ".join(sentences) + "\n", encoding="utf-8")


def run_child(*args: str, script: str = __file__, env: dict[str, str] | None = None) -> dict:
    """One step of ``script`` (this one by default) in a fresh process; its last line of JSON output, with the
    wall time."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"step {args[0]} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


def step_build(model: str, corpus: str, index: str, full: str) -> None:
    """(child) build or update, report seconds and peak memory."""
    from rag.index.build import build_index
    from rag.settings import Settings

    settings = Settings(model=model)  # RAG_BM25_* from the environment: a synthetic index is unstemmed
    started = time.perf_counter()
    report = build_index([Path(corpus)], settings, index_dir=Path(index), full=full == "1")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak": peak, "chunks": report.chunks, "embedded": report.embedded,
                      "segments": len(report.manifest.segments)}))  # fmt: skip


def step_load_model(model: str) -> None:
    """(child) seconds to import the libraries and load the model, as an update does before it embeds: the part
    of an update's time that does not depend on the index."""
    started = time.perf_counter()
    from rag.embedding import Embedder
    from rag.settings import Settings

    Embedder.from_settings(Settings(model=model))
    print(json.dumps({"seconds": time.perf_counter() - started}))


def step_search(model: str, index_dir: str, queries: str) -> None:
    """(child) open time, query latency per mode and filter, recall of the approximate search."""
    from rag.embedding import Embedder
    from rag.index.reader import open_index
    from rag.runtime import configure_process, limit_service_threads
    from rag.search.searcher import Searcher
    from rag.settings import Settings
    from rag.types import SearchFilters

    settings = Settings(model=model)
    configure_process(settings)
    limit_service_threads(settings)  # as rag serve runs: one thread per search
    embedder = Embedder.from_settings(settings)
    started = time.perf_counter()
    index = open_index(Path(index_dir), settings)
    opened = time.perf_counter() - started
    searcher = Searcher(index, embedder, settings, display_root=Path(index_dir).parent)
    questions = json.loads(queries)
    filters = {
        "none": None,
        "source": SearchFilters(source="corpus/part1[0-4]/*"),
        "date": SearchFilters(date_from=date(2021, 1, 1), date_to=date(2022, 6, 30)),
    }
    for question in questions:  # warm: the first searches after opening read the memory-mapped files from disk
        searcher.search(question, 10, mode="hybrid")
    latency = {}
    for mode in ("dense", "bm25", "hybrid"):
        for name, chosen in filters.items():
            searcher.search(questions[0], 10, chosen, mode=mode)  # warm
            times = []
            for question in questions:
                begun = time.perf_counter()
                searcher.search(question, 10, chosen, mode=mode)
                times.append((time.perf_counter() - begun) * 1000)
            latency[f"{mode}/{name}"] = [float(np.percentile(times, 50)), float(np.percentile(times, 95))]
    recall = approximate_recall(searcher, questions)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"open": opened, "latency": latency, "recall": recall, "peak": rss,
                      "segments": [s.info.name for s in index.segments]}))  # fmt: skip


def approximate_recall(searcher, questions: list[str]) -> dict[str, float | None]:
    """recall@10 of each HNSW segment's search against exact search over the same vectors (None: no segment is
    approximate at this size), unfiltered and with half of the positions allowed."""
    segments = [s for s in searcher.index.segments if s.vectors.approximate]
    if not segments:
        return {"none": None, "half": None}
    vectors = searcher.embedder.embed_queries(questions)
    rng = np.random.default_rng(0)
    found = {"none": [], "half": []}
    for segment in segments:
        stored = segment.vectors.vectors
        for name in found:
            allowed = None if name == "none" else rng.random(len(segment)) < 0.5
            for query in vectors:
                _, got = segment.vectors.search(query, 10, allowed)
                _, want = segment.vectors._search_exact(query, 10, allowed)
                found[name].append(len(set(got.tolist()) & set(want.tolist())) / 10)
        del stored
    return {name: float(np.mean(values)) for name, values in found.items()}


def step_synthesize(model: str, corpus: str, index_dir: str) -> None:
    """(child) The index a full build of ``corpus`` makes, written straight through the segment writer: each file
    cut into passages of 70 words at exact offsets, each passage's vector the normalised mean of the stand-in's
    token embeddings of its words (one token each), BM25 without stemming. It skips the chunker and the model's
    tokenizer, which cost 3-5 ms a passage in one Python thread (over an hour at a million), and measures the
    writer: postings, store, vectors, the HNSW graph and peak memory. Updates then run through ``rag index``."""
    from safetensors.numpy import load_file

    from rag.embedding import resolve_model_path
    from rag.index.build import BuildTarget, _commit
    from rag.index.manifest import ModelInfo
    from rag.index.plan import BuildPlan
    from rag.index.writer import SegmentWriter
    from rag.settings import DEFAULT_MODEL, Settings

    settings = Settings(model=model, bm25_stem=False, bm25_stopwords=False, _env_file=None)
    tensors = load_file(str(Path(model + "-transformer") / "model.safetensors"))
    table = next(v for k, v in tensors.items() if k.endswith("word_embeddings.weight")).astype(np.float32)
    table = (table - table.mean(axis=1, keepdims=True)) / table.std(axis=1, keepdims=True)  # the embedding LayerNorm
    vocab = {w: i for i, w in enumerate(
        (Path(resolve_model_path(DEFAULT_MODEL)) / "vocab.txt").read_text(encoding="utf-8").splitlines())}  # fmt: skip
    started = time.perf_counter()
    index = Path(index_dir)
    index.mkdir(parents=True)
    target = BuildTarget(index, settings, [Path(corpus)], index / "embedding-cache.sqlite", started)
    writer = SegmentWriter(index, f"seg-{target.build_id}", target.layout(), 1)
    root = Path(corpus)
    batch: list[Path] = []
    files = sorted(root.glob("part*/doc*.txt"))
    plan = BuildPlan({})
    for number, path in enumerate(files, start=1):
        batch.append(path)
        if len(batch) == 2000 or number == len(files):
            _write_files(writer, batch, root, table, vocab)
            plan.fresh += len(batch)
            batch = []
    written = writer.finish()
    model_info = ModelInfo(model, table.shape[1], 256)
    report = _commit(target, plan.finish(), None, written, 0, model_info)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": time.perf_counter() - started, "peak": peak, "chunks": report.chunks,
                      "embedded": 0, "segments": len(report.manifest.segments)}))  # fmt: skip


def _write_files(writer, paths: list[Path], root: Path, table: np.ndarray, vocab: dict[str, int]) -> None:
    """One batch of files into the writer (see ``step_synthesize``)."""
    import hashlib

    from rag.ingest.reading import display_path, file_doc_id
    from rag.types import Chunk, Document, SentenceVectors

    documents, chunks, token_ids = [], [], []
    for path in paths:
        data = path.read_bytes()
        text = data.decode("utf-8")
        info = path.stat()
        doc_id = file_doc_id(path, root)
        documents.append(Document(doc_id=doc_id, source=display_path(path), text=text, encoding="utf-8",
                                  sha256=hashlib.sha256(data).hexdigest(), date=text[5:15], body_start=16,
                                  file_size=info.st_size, mtime_ns=info.st_mtime_ns))  # fmt: skip
        words = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z]+", text[16:])]
        for ordinal, first in enumerate(range(0, len(words), 70)):
            span = words[first : first + 70]
            start, end = 16 + span[0][0], 16 + span[-1][1]
            chunks.append(Chunk(doc_id, ordinal, start, end, text[start:end], 2, 2, len(span)))
            token_ids.append([vocab.get(text[16 + a : 16 + b].lower(), 100) for a, b in span])
    vectors = np.stack([table[ids].mean(axis=0) for ids in token_ids])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sentences = [SentenceVectors([(0, c.end - c.start)], v[None, :]) for c, v in zip(chunks, vectors, strict=True)]
    writer.add(documents, chunks, vectors, sentences, [None] * len(chunks))


def step_model_rate() -> None:
    """(child) the real model's passages per second on 512 passages of 96 tokens."""
    from rag.embedding import Embedder
    from rag.settings import Settings

    embedder = Embedder.from_settings(Settings(_env_file=None))
    words = vocabulary()
    texts = [" ".join(random.Random(i).choices(words, k=70)) for i in range(512)]
    spans = [[(0, len(t))] for t in texts]
    embedder.embed_passages_with_sentences(texts[:32], spans[:32])
    started = time.perf_counter()
    embedder.embed_passages_with_sentences(texts, spans)
    print(json.dumps({"rate": len(texts) / (time.perf_counter() - started)}))


def touch(corpus: Path, count: int, round_number: int) -> None:
    files = sorted(corpus.glob("part*/doc*.txt"))
    for path in random.Random(round_number).sample(files, count):
        path.write_text(path.read_text(encoding="utf-8") + f"\nAn added closing sentence {round_number}.\n",
                        encoding="utf-8")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        steps = {"_build": step_build, "_search": step_search, "_rate": step_model_rate, "_synthesize": step_synthesize,
                 "_load": step_load_model}  # fmt: skip
        steps[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-scale"))
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument(
        "--synthesize-from", type=int, default=1_000_000,
        help="sizes from this one are written straight through the segment writer (see step_synthesize)",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", action="store_true",
        help="keep an index already built for a size: measure only the updates and searches on it (no build row)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from tests.standin import make_standin_model

    args.work.mkdir(parents=True, exist_ok=True)
    model = args.work / "standin-384"
    if not model.exists():
        make_standin_model(model, dimension=384, layers=0)
    words = vocabulary()
    questions = [" ".join(random.Random(1000 + q).choices(words[:5_000], k=8)) for q in range(args.queries)]
    rows = {}
    for size in args.sizes:
        files = size // 10
        folder = args.work / f"n{size}"
        corpus, index = folder / "corpus", folder / "index"
        if not corpus.exists():
            generate(corpus, files)
        synthetic = size >= args.synthesize_from
        if synthetic:  # updates must use the BM25 settings the synthetic index was made with, or they rebuild it
            os.environ.update(RAG_BM25_STEM="false", RAG_BM25_STOPWORDS="false")
        else:
            os.environ.pop("RAG_BM25_STEM", None), os.environ.pop("RAG_BM25_STOPWORDS", None)
        if args.reuse and index.exists():
            manifest = json.loads((index / "manifest.json").read_text())
            full = {"seconds": None, "peak": None, "chunks": manifest["counts"]["chunks"]}
        elif synthetic:
            full = run_child("_synthesize", str(model), str(corpus), str(index))
        else:
            full = run_child("_build", str(model), str(corpus), str(index), "1")
        full["synthetic"] = synthetic
        time.sleep(2.5)  # past the racy window: files written just now are hashed, not trusted by their time
        nothing = run_child("_build", str(model), str(corpus), str(index), "0")
        touch(corpus, 1, 1)
        one = run_child("_build", str(model), str(corpus), str(index), "0")
        one["model_load"] = run_child("_load", str(model))["seconds"]
        touch(corpus, max(1, files // 100), 2)
        percent = run_child("_build", str(model), str(corpus), str(index), "0")
        searched = run_child("_search", str(model), str(index), json.dumps(questions))
        vectors_bytes = full["chunks"] * 384 * 4
        rows[size] = {"full": full, "nothing": nothing, "one": one, "percent": percent, "search": searched,
                      "vectors_bytes": vectors_bytes}  # fmt: skip
        print(json.dumps({size: rows[size]}), flush=True)
    rate = run_child("_rate")["rate"]
    print_table(rows, rate)


def print_table(rows: dict, rate: float) -> None:
    sizes = list(rows)
    gib = 1024**3

    def line(label: str, values: list[str]) -> None:
        print(f"| {label} | " + " | ".join(values) + " |")

    print("| figure | " + " | ".join(f"{rows[s]['full']['chunks']:,} passages" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    built = [s for s in sizes if rows[s]["full"]["seconds"] is not None]  # --reuse: the others were not built
    if built:
        line(
            "full build (stand-in model)", [f"{rows[s]['full']['seconds']:.0f} s" if s in built else "-" for s in sizes]
        )
        line("full build, projected with the real model", [
            f"{(rows[s]['full']['seconds'] + rows[s]['full']['chunks'] / rate) / 60:.0f} min" if s in built else "-"
            for s in sizes
        ])  # fmt: skip
        line(
            "full build, peak memory",
            [f"{rows[s]['full']['peak'] / gib:.2f} GiB" if s in built else "-" for s in sizes],
        )
    line("of which vectors", [f"{rows[s]['vectors_bytes'] / gib:.2f} GiB" for s in sizes])
    line("nothing changed, `rag index`", [f"{rows[s]['nothing']['seconds']:.2f} s" for s in sizes])
    line("1 file changed, `rag index`", [f"{rows[s]['one']['seconds']:.2f} s" for s in sizes])
    line("loading the model alone (same run)", [f"{rows[s]['one']['model_load']:.2f} s" for s in sizes])
    line("1% of files changed, `rag index`", [f"{rows[s]['percent']['seconds']:.1f} s" for s in sizes])
    line("segments after the updates", [str(rows[s]["percent"]["segments"]) for s in sizes])
    line("open the index", [f"{rows[s]['search']['open']:.2f} s" for s in sizes])
    for key in rows[sizes[0]]["search"]["latency"]:
        line(f"query p50 / p95, {key}", [
            "{:.1f} / {:.1f} ms".format(*rows[s]["search"]["latency"][key]) for s in sizes
        ])  # fmt: skip
    for name in ("none", "half"):
        label = "recall@10 of HNSW vs exact" + (", half the passages filtered out" if name == "half" else "")
        line(label, [
            "exact search" if rows[s]["search"]["recall"][name] is None else f"{rows[s]['search']['recall'][name]:.3f}"
            for s in sizes
        ])  # fmt: skip
    print(f"\nReal model (MiniLM, torch, this machine): {rate:.0f} passages/s")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
