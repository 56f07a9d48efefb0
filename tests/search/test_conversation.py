"""Follow-up questions: the seed follow-up set with the real model (follow-ups answered in the top 3, topic
switches not dragged back), and which text is searched (by hand, with the stand-in model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.search.conversation import Turn, search_conversation

FOLLOWUPS = Path(__file__).resolve().parents[1] / "data" / "seeds_followup_dev.jsonl"


def _conversations() -> list[dict]:
    return [json.loads(line) for line in FOLLOWUPS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _found_in_top_3(searcher, conversation: dict) -> bool:
    turns = [Turn(m["role"], m["content"]) for m in conversation["messages"]]
    hits = search_conversation(searcher, turns, 3).hits
    return any(answer in hit.text for hit in hits for answer in conversation["answers"])


@pytest.mark.slow
@pytest.mark.model
def test_follow_ups_find_their_answer_and_topic_switches_keep_theirs(seed_searcher) -> None:
    conversations = _conversations()
    follow_ups = [c for c in conversations if c["kind"] == "follow-up"]
    switches = [c for c in conversations if c["kind"] == "switch"]
    assert len(follow_ups) == 10 and len(switches) == 3
    found = [c["id"] for c in follow_ups if _found_in_top_3(seed_searcher, c)]
    assert len(found) >= 9, f"follow-ups answered in the top 3: {found}"
    assert all(_found_in_top_3(seed_searcher, c) for c in switches)
    # the last message alone does worse: the conversation is what finds them
    alone = [c["id"] for c in follow_ups if _found_in_top_3(seed_searcher, {**c, "messages": c["messages"][-1:]})]
    assert len(alone) < len(found)


def test_the_query_is_the_question_alone_or_with_the_previous_one(standin_searcher, monkeypatch) -> None:
    first = search_conversation(standin_searcher, [Turn("system", "Be brief."), Turn("user", "Victory Day?")], 2)
    assert first.query == first.question == "Victory Day?" and len(first.hits) == 2
    turns = [Turn("user", "Which airport is being built?"), Turn("assistant", "Lachin."), Turn("user", "When?")]
    settings = standin_searcher.settings
    monkeypatch.setattr(standin_searcher.retriever, "settings", settings.model_copy(update={"answer_threshold": 1.0}))
    leaning = search_conversation(standin_searcher, turns, 3)  # nothing answers "When?" alone: read with context
    assert (leaning.question, leaning.query) == ("When?", "Which airport is being built?\nWhen?")
    assert leaning.hits == standin_searcher.search(leaning.query, 3)
    monkeypatch.setattr(standin_searcher.retriever, "settings", settings.model_copy(update={"answer_threshold": -1.0}))
    alone = search_conversation(standin_searcher, turns, 3)  # every passage answers: the question stands alone
    assert alone.query == "When?" and alone.hits == standin_searcher.search("When?", 3)
    long = search_conversation(standin_searcher, [Turn("user", "word " * 1000)], 1)
    assert len(long.query) == 2000  # capped, not refused
    with pytest.raises(ValueError, match="user message"):
        search_conversation(standin_searcher, [Turn("assistant", "hello")], 1)
