"""Evaluation data sets: BEIR folders (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``)."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidInputError
from rag.jsonl import read_jsonl


@dataclass(frozen=True)
class BeirDataset:
    """The judged queries of one split and the corpus file they are judged against."""

    name: str
    split: str
    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def corpus_checksum(self) -> str:
        with self.corpus.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file()


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Read a BEIR folder; only queries judged in ``qrels/<split>.tsv`` are kept, as BEIR evaluates them."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = ", ".join(sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))) or "none"
        raise InvalidInputError(
            f"{folder} has no qrels/{split}.tsv; choose a split with --split (available: {available})"
        )
    qrels = _read_qrels(qrels_path)
    queries = {}
    for line_no, record in read_jsonl(folder / "queries.jsonl"):
        if "_id" not in record or not isinstance(record.get("text"), str):
            raise InvalidInputError(f'{folder / "queries.jsonl"}:{line_no}: expected {{"_id", "text"}}')
        queries[str(record["_id"])] = record["text"]
    judged = {qid: text for qid, text in queries.items() if qid in qrels}
    if not judged:
        raise InvalidInputError(f"no query of {folder / 'queries.jsonl'} is judged in {qrels_path}")
    return BeirDataset(
        name=folder.resolve().name,
        split=split,
        corpus=folder / "corpus.jsonl",
        queries=dict(sorted(judged.items())),
        qrels={qid: qrels[qid] for qid in judged},
    )


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row_no, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (row_no == 1 and not row[-1].lstrip("-").isdigit()):
                continue  # blank line, or the "query-id corpus-id score" header
            if len(row) != 3:
                raise InvalidInputError(f"{path}:{row_no}: expected 'query-id<TAB>corpus-id<TAB>score'")
            qid, doc_id, score = row
            qrels.setdefault(qid, {})[doc_id] = int(score)
    return qrels
