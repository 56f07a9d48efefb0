"""Batch questions: read a JSONL question set and answer every question with one loaded model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from rag.errors import InvalidInputError
from rag.jsonl import read_jsonl
from rag.search.answerability import answerable
from rag.search.searcher import Searcher
from rag.types import Hit

BATCH_SIZE = 32


@dataclass(frozen=True)
class Question:
    """One line of a question file; ``answers`` and ``sources`` are there for evaluation and may be empty."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    unanswerable: bool = False
    """The line says ``"answers": []``: the corpus holds no answer (scored by the answerability verdict)."""


@dataclass(frozen=True)
class Answered:
    question: Question
    hits: list[Hit]

    def to_dict(self) -> dict:
        return {
            "id": self.question.id,
            "question": self.question.question,
            "answerable": answerable(self.hits),
            "results": [h.to_dict() for h in self.hits],
        }


def read_questions(path: Path) -> list[Question]:
    """Questions from a JSONL file: each line has ``question`` and optionally ``id``, ``answers``, ``sources``.

    A line without an ``id`` gets its line number. A malformed line is an error naming the line.
    """
    questions = []
    for line_no, record in read_jsonl(path, "question file"):
        if not isinstance(record.get("question"), str):
            raise InvalidInputError(f'{path}:{line_no}: each line needs a "question" string')
        if not record["question"].strip():
            raise InvalidInputError(f"{path}:{line_no}: the question is empty")
        questions.append(
            Question(
                id=str(record.get("id", line_no)),
                question=record["question"],
                answers=tuple(str(a) for a in record.get("answers") or ()),
                sources=tuple(str(s) for s in record.get("sources") or ()),
                unanswerable=record.get("answers", None) == [],
            )
        )
    if not questions:
        raise InvalidInputError(f"{path} holds no questions")
    return questions


def answer_questions(
    searcher: Searcher,
    questions: list[Question],
    k: int,
    *,
    mode: str | None = None,
    rerank: bool | None = None,
    progress: bool = False,
) -> Iterator[Answered]:
    """Answer questions in batches (one model call per batch), in input order."""
    with tqdm(total=len(questions), desc="questions", unit="q", disable=not progress) as bar:
        for first in range(0, len(questions), BATCH_SIZE):
            batch = questions[first : first + BATCH_SIZE]
            results = searcher.search_batch([q.question for q in batch], k, mode=mode, rerank=rerank)
            for question, hits in zip(batch, results, strict=True):
                yield Answered(question, hits)
            bar.update(len(batch))
