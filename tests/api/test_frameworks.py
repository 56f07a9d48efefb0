"""LangChain and LlamaIndex, unchanged and with their default settings, against the real server: plain, streamed
and async, with real token usage. (LangChain's chat-completions parser does not surface ``annotations``; the
sources reach it as the reply's Markdown links, checked here, and as annotations in the raw response, checked with
the ``openai`` client in test_openai.py. LlamaIndex's ``OpenAILike`` defaults to the completions API.)"""

from __future__ import annotations

import asyncio

import pytest
from conftest import DEV_QUESTIONS, RunningServer

from rag.batch import read_questions

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.server]

(DEV_QUESTION,) = [q for q in read_questions(DEV_QUESTIONS) if q.id == "d08"]
QUESTION = DEV_QUESTION.question


def _answered(text: str) -> bool:
    return any(answer in text for answer in DEV_QUESTION.answers)


def test_langchain_chat_openai_plain_streamed_and_async(server: RunningServer) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    llm = langchain_openai.ChatOpenAI(base_url=f"{server.base_url}/v1", api_key="not-needed", model="rag-search")
    message = llm.invoke(QUESTION)
    assert _answered(message.content) and "Sources:\n[1] [seeds/" in message.content and "](http://" in message.content
    assert message.usage_metadata["input_tokens"] > 5 and message.usage_metadata["output_tokens"] > 50
    streaming = langchain_openai.ChatOpenAI(
        base_url=f"{server.base_url}/v1", api_key="not-needed", model="rag-search", stream_usage=True
    )
    chunks = list(streaming.stream(QUESTION))
    assert "".join(c.content for c in chunks) == message.content
    assert (
        sum(c.usage_metadata["total_tokens"] for c in chunks if c.usage_metadata)
        == message.usage_metadata["total_tokens"]
    )
    assert asyncio.run(llm.ainvoke(QUESTION)).content == message.content


def test_llama_index_openai_like_with_its_defaults(server: RunningServer) -> None:
    openai_like = pytest.importorskip("llama_index.llms.openai_like")
    llm = openai_like.OpenAILike(api_base=f"{server.base_url}/v1", api_key="not-needed", model="rag-search")
    assert not llm.is_chat_model  # its default: the completions API
    response = llm.complete(QUESTION)
    assert _answered(response.text)
    assert response.raw.usage.completion_tokens > 50 and response.raw.usage.prompt_tokens > 5
    assert "".join(r.delta or "" for r in llm.stream_complete(QUESTION)) == response.text
    assert asyncio.run(llm.acomplete(QUESTION)).text == response.text
    chat = openai_like.OpenAILike(
        api_base=f"{server.base_url}/v1", api_key="not-needed", model="rag-search", is_chat_model=True
    )
    from llama_index.core.llms import ChatMessage

    reply = chat.chat([ChatMessage(role="user", content=QUESTION)])
    assert _answered(reply.message.content)
    annotations = reply.raw.choices[0].message.annotations
    assert annotations and annotations[0].type == "url_citation"
