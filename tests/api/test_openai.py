"""The official ``openai`` client, unchanged, against the real server: models, chat, streaming."""

from __future__ import annotations

import pytest
from conftest import CITATION_FIELDS, DEV_QUESTIONS, RunningServer
from openai import OpenAI

from rag.batch import read_questions

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.server]

(DEV_QUESTION,) = [q for q in read_questions(DEV_QUESTIONS) if q.id == "d08"]
QUESTION = DEV_QUESTION.question


@pytest.fixture(scope="module")
def openai_client(server: RunningServer) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key="not-needed", max_retries=0)


def test_models_lists_the_search_model(openai_client: OpenAI) -> None:
    assert [m.id for m in openai_client.models.list()] == ["rag-search"]


def test_chat_completion_quotes_numbered_passages_and_sources(openai_client: OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model="rag-search",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Earlier question"},
            {"role": "assistant", "content": "Earlier answer"},
            {"role": "user", "content": QUESTION},
        ],
    )
    message = completion.choices[0].message
    assert message.role == "assistant" and completion.choices[0].finish_reason == "stop"
    content = message.content
    assert QUESTION in content
    for marker in ("[1]", "[2]", "[3]", "[4]", "[5]"):
        assert content.count(marker) == 2  # once on the passage, once in the sources list
    assert any(answer in content for answer in DEV_QUESTION.answers)
    sources = content.split("Sources:\n", 1)[1]
    assert "seeds/003_85845c52b2831ec8.txt, lines" in sources and "2023-11-09" in sources
    citations = completion.model_extra["citations"]
    assert len(citations) == 5 and citations[0]["rank"] == 1
    assert set(citations[0]["citation"]) == CITATION_FIELDS


def test_chat_says_when_the_documents_do_not_seem_to_hold_the_answer(openai_client: OpenAI) -> None:
    question = "Give me a recipe for chocolate cake."
    completion = openai_client.chat.completions.create(
        model="rag-search", messages=[{"role": "user", "content": question}]
    )
    content = completion.choices[0].message.content
    assert content.startswith(f"The documents do not seem to hold the answer to “{question}”. The closest passages:")
    assert "[1]" in content and "Sources:\n" in content
    assert all(c["relevance"] < 0.5 for c in completion.model_extra["citations"])
    on_topic = openai_client.chat.completions.create(
        model="rag-search", messages=[{"role": "user", "content": QUESTION}]
    )
    assert on_topic.choices[0].message.content.startswith("Passages that answer")


def test_streaming_gives_the_same_answer(openai_client: OpenAI) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    whole = openai_client.chat.completions.create(model="rag-search", messages=messages).choices[0].message.content
    stream = openai_client.chat.completions.create(model="rag-search", messages=messages, stream=True)
    pieces, finish = [], None
    for chunk in stream:
        choice = chunk.choices[0]
        pieces.append(choice.delta.content or "")
        finish = choice.finish_reason or finish
    assert "".join(pieces) == whole
    assert finish == "stop"
