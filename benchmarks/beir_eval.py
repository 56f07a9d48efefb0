"""Full evaluation on a BEIR data set with the default settings: the figures the README records.

Usage: python benchmarks/beir_eval.py [../shared/beir/scifact-train] [--split train] [--fresh]

--fresh builds the index in a temporary folder (to time a cold build); otherwise the cache under
vectors/eval/ is used as ``rag eval`` does. The data set itself is never copied into the project.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from rag.eval.datasets import load_beir
from rag.eval.evaluation import evaluate_beir
from rag.eval.report import format_table
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, nargs="?", default=Path("../shared/beir/scifact-train"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--fresh", action="store_true", help="build the index anew in a temporary folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    dataset = load_beir(args.dataset, args.split)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) if args.fresh else settings.index_dir
        report, _ = evaluate_beir(dataset, settings, index_root=root, progress=True)
    print(format_table(report))


if __name__ == "__main__":
    main()
