"""The official ``openai`` client, unchanged, against the real server: models, chat, streaming."""

from __future__ import annotations

import httpx
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


def test_chat_reply_leads_with_the_answer_and_cites_sources_as_links(openai_client: OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model="rag-search",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": QUESTION},
        ],
    )
    message = completion.choices[0].message
    assert message.role == "assistant" and completion.choices[0].finish_reason == "stop"
    content = message.content
    assert QUESTION not in content  # the prompt is never echoed
    lead = content.split("\n\n", 1)[0].splitlines()
    assert [line.rsplit(" ", 1)[-1] for line in lead] == ["[1]", "[2]", "[3]"]  # three passages by default
    assert any(answer in content for answer in DEV_QUESTION.answers)
    sources = content.split("Sources:\n", 1)[1]
    assert "seeds/003_85845c52b2831ec8.txt, lines" in sources and "](http://" in sources
    annotations = message.model_extra.get("annotations") or message.annotations
    assert len(annotations) == 3
    for line, annotation in zip(lead, annotations, strict=True):
        cited = annotation["url_citation"] if isinstance(annotation, dict) else annotation.url_citation.model_dump()
        linked = content[cited["start_index"] : cited["end_index"]]
        assert linked == f"[{cited['title']}]({cited['url']})"
        span = httpx.get(cited["url"], headers={"Accept": "application/json"}, timeout=30).json()["span"]
        sentence = line.rsplit(" [", 1)[0]
        assert sentence in " ".join(span["text"].split())  # the link opens the passage that says it
    citations = completion.model_extra["citations"]
    assert len(citations) == 3 and citations[0]["rank"] == 1
    assert set(citations[0]["citation"]) == CITATION_FIELDS
    usage = completion.usage
    assert usage.prompt_tokens > 5 and usage.completion_tokens > 50
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_follow_up_question_is_read_with_the_one_before(openai_client: OpenAI) -> None:
    messages = [
        {"role": "user", "content": "Which news agency did the Kazakh MP speak to?"},
        {"role": "assistant", "content": "Trend."},
        {"role": "user", "content": "What is his name?"},
    ]
    content = openai_client.chat.completions.create(model="rag-search", messages=messages).choices[0].message.content
    assert "Aydos Sarym" in content


def test_chat_says_when_the_documents_do_not_seem_to_hold_the_answer(openai_client: OpenAI) -> None:
    question = "Give me a recipe for chocolate cake."
    completion = openai_client.chat.completions.create(
        model="rag-search", messages=[{"role": "user", "content": question}]
    )
    content = completion.choices[0].message.content
    assert content.startswith("The documents do not seem to hold the answer to this. The closest passages:")
    assert "[1]" in content and "Sources:\n" in content and question not in content
    assert all(c["relevance"] < 0.5 for c in completion.model_extra["citations"])
    on_topic = openai_client.chat.completions.create(
        model="rag-search", messages=[{"role": "user", "content": QUESTION}]
    )
    assert not on_topic.choices[0].message.content.startswith("The documents do not seem")


def test_a_long_message_is_answered_not_refused(openai_client: OpenAI) -> None:
    template = "### Task: suggest a title for the chat below.\n" + "Context line. " * 300 + "\n" + QUESTION
    assert len(template) > 3000
    content = (
        openai_client.chat.completions.create(model="rag-search", messages=[{"role": "user", "content": template}])
        .choices[0]
        .message.content
    )
    assert "Sources:" in content


def test_streaming_gives_the_same_answer_with_annotations_and_usage(openai_client: OpenAI) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    whole = openai_client.chat.completions.create(model="rag-search", messages=messages)
    stream = openai_client.chat.completions.create(
        model="rag-search", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    pieces, finish, annotations, usage = [], None, [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        pieces.append(choice.delta.content or "")
        annotations += (choice.delta.model_extra or {}).get("annotations") or []
        finish = choice.finish_reason or finish
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == "stop"
    assert [a["url_citation"]["url"] for a in annotations] == [
        a["url_citation"]["url"] if isinstance(a, dict) else a.url_citation.url
        for a in (whole.choices[0].message.model_extra.get("annotations") or whole.choices[0].message.annotations)
    ]
    assert usage is not None and usage.total_tokens == whole.usage.total_tokens > 0


def test_async_client_gets_the_same_reply(server: RunningServer) -> None:
    import asyncio

    from openai import AsyncOpenAI

    async def ask() -> str:
        client = AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0)
        completion = await client.chat.completions.create(
            model="rag-search", messages=[{"role": "user", "content": QUESTION}]
        )
        return completion.choices[0].message.content

    assert any(answer in asyncio.run(ask()) for answer in DEV_QUESTION.answers)


def test_completions_models_and_openai_errors(openai_client: OpenAI) -> None:
    import openai

    assert openai_client.models.retrieve("rag-search").id == "rag-search"
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.models.retrieve("gpt-4o")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    completion = openai_client.completions.create(model="rag-search", prompt=QUESTION)
    assert any(answer in completion.choices[0].text for answer in DEV_QUESTION.answers)
    assert completion.usage.completion_tokens > 0
    streamed = openai_client.completions.create(model="rag-search", prompt=QUESTION, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == completion.choices[0].text
    for bad in (
        {"n": 2},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}], "tool_choice": "required"},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            openai_client.chat.completions.create(
                model="rag-search", messages=[{"role": "user", "content": QUESTION}], **bad
            )
        assert refused.value.body["message"] and refused.value.body["type"] == "invalid_request_error"
