"""Incremental sync: full build time of a generated corpus, then the time to bring the index in step after one
file of it changes (the target is under 5% of the full build), and after nothing changed.

Usage: python benchmarks/sync.py [--files 1000]

In process, with the model loaded once (not counted), in a fresh folder: the full build embeds everything.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from index_and_search import generate_corpus

from rag.embedding import Embedder
from rag.index.build import build_index
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        generate_corpus(corpus, args.files)
        started = time.perf_counter()
        full = build_index([corpus], settings, index_dir=index_dir, embedder=embedder, progress=True)
        full_seconds = time.perf_counter() - started

        changed = sorted(corpus.iterdir())[args.files // 2]
        changed.write_text(changed.read_text(encoding="utf-8") + "\n\nOne new closing sentence.", encoding="utf-8")
        started = time.perf_counter()
        update = build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
        update_seconds = time.perf_counter() - started

        started = time.perf_counter()
        idle = build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
        idle_seconds = time.perf_counter() - started
    print(f"full build      {full.documents} files, {full.chunks} chunks: {full_seconds:7.2f} s")
    print(
        f"1 file changed  {update.updated} updated, {update.unchanged} unchanged, {update.embedded} passages "
        f"embedded: {update_seconds:7.2f} s = {100 * update_seconds / full_seconds:.2f}% of the full build"
    )
    print(f"nothing changed {idle.unchanged} unchanged, no new build: {idle_seconds:7.2f} s")


if __name__ == "__main__":
    main()
