"""Index a folder of hostile files at the audit's full sizes, beside the seed corpus, and report time, peak memory
and what the report said of each file.

The files (made in a temporary folder): a FIFO, a symbolic link to a file outside the folder, a file name that is
not UTF-8, HTML nested 1,500 and 100,000 levels deep, 20 MB of text on one line, a 200 MB text file, a DOCX whose
document part inflates to 1.1 GB, and a truncated PDF; plus the five seed documents and three small ordinary ones.

    python benchmarks/hostile_corpus.py [--keep DIR]

`rag index` runs in a child process with the default settings; its peak RSS is read from the kernel when it ends.
Targets (issue: audit defects): finishes in under 2 minutes at under 2 GB, every hostile file named with its
reason, the ordinary files searchable, the link's target never indexed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile_corpus import Expected, make_hostile_corpus, one_line_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="Build in this folder and keep it.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="rag-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path) -> None:
    secret = work / "outside" / "passwd"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("root:x:0:0:the-vault-password-is-swordfish\n")
    corpus = work / "docs"
    started = time.perf_counter()
    sentences, hostile = make_hostile_corpus(
        corpus, secret, html_depths=(1_500, 100_000), one_line_bytes=20_000_000, bomb_bytes=1_100_000_000
    )
    hostile.append(
        Expected(one_line_text(corpus, 200_000_000, "huge.txt").name, "the limit is 100.0 MB (RAG_MAX_FILE_BYTES)")
    )
    shutil.copytree(ROOT / "seeds", corpus / "seeds")
    print(f"made the corpus in {time.perf_counter() - started:.1f} s: {describe(corpus)}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    command = [sys.executable, "-m", "rag", "index", str(corpus), "--index", str(work / "index")]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child: rag index
    print(result.stdout)
    if result.returncode != 0:
        sys.exit(f"rag index failed ({result.returncode}): {result.stderr}")

    print("| hostile file | reported | reason |")
    print("|---|---|---|")
    failures = []
    for expected in hostile:
        line = next((x for x in result.stdout.splitlines() if x.strip().startswith(f"docs/{expected.name}:")), None)
        reason = line.split(": ", 1)[1] if line else "(indexed)"
        ok = expected.reason in reason if expected.reason else line is None
        failures += [] if ok else [expected.name]
        print(f"| {expected.name} | {'yes' if ok else 'NO'} | {reason} |")

    searched = subprocess.run(
        [sys.executable, "-m", "rag", "search", "Who logs the ferries after midnight?", "--index", "index", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    found = json.loads(searched.stdout)["results"] if searched.returncode == 0 else []
    answered = any(sentences["notes/harbour.txt"] in r["text"] for r in found)
    leaked = any("swordfish" in path.read_bytes().decode("latin-1") for path in (work / "index").rglob("*.sqlite"))
    print()
    print(f"rag index: {seconds:.1f} s, peak RSS {peak_mb:,.0f} MB (targets: < 120 s, < 2,048 MB)")
    print(f"ordinary file answered: {answered}; link target's text anywhere in the index: {leaked}")
    if failures or not answered or leaked or seconds > 120 or peak_mb > 2048:
        sys.exit(f"FAILED: {failures or ''} answered={answered} leaked={leaked}")


def describe(corpus: Path) -> str:
    entries = sorted(corpus.rglob("*"))
    return f"{len(entries)} entries, {sum(p.lstat().st_size for p in entries if p.is_file()) / 1e6:,.0f} MB"


if __name__ == "__main__":
    main()
