"""Search over MCP with the official SDK's own client: over streamable HTTP against the real server on loopback
(with and without the API key) and over stdio against ``rag mcp``; tools listed and called, citations intact."""

from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from conftest import API_KEY, DEV_QUESTIONS, RunningServer

from rag.batch import read_questions

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.server]

(DEV_QUESTION,) = [q for q in read_questions(DEV_QUESTIONS) if q.id == "d08"]


@asynccontextmanager
async def http_session(base_url: str, key: str | None = None):
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as client:
        async with streamable_http_client(f"{base_url}/mcp/", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                yield session


async def exercise(session, base_url: str, key: str | None = None) -> dict:
    """List and call both tools and read the resources; returns what the checks need."""
    tools = sorted(t.name for t in (await session.list_tools()).tools)
    found = await session.call_tool("search", {"query": DEV_QUESTION.question, "top_k": 3})
    first = found.structured_content["results"][0]
    cite = first["citation"]
    span = await session.call_tool(
        "get_document_span", {"doc_id": cite["doc_id"], "start": cite["start"], "end": cite["end"]}
    )
    listing = json.loads((await session.read_resource("rag://documents")).contents[0].text)
    whole = (await session.read_resource(f"rag://documents/{cite['doc_id']}")).contents[0].text
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    served = httpx.get(
        f"{base_url}/documents/{cite['doc_id']}", params={"start": cite["start"], "end": cite["end"]},
        headers=headers | {"Accept": "application/json"}, timeout=30,
    ).json()["span"]["text"]  # fmt: skip
    return {"tools": tools, "found": found, "first": first, "span": span, "listing": listing, "whole": whole,
            "served": served}  # fmt: skip


def check(result: dict) -> None:
    assert result["tools"] == ["get_document_span", "search"]
    found, first = result["found"], result["first"]
    assert not found.is_error and found.structured_content["answerable"] is True
    assert len(found.structured_content["results"]) == 3
    text = found.content[0].text
    assert text.startswith("[1] seeds/") and "answer: " in text
    assert any(answer in text for answer in DEV_QUESTION.answers)
    cite = first["citation"]
    assert first["text"] == result["served"] == result["whole"][cite["start"] : cite["end"]]  # citations intact
    span = result["span"].structured_content
    assert span["text"] == first["text"] and (span["line_start"], span["line_end"]) == (
        cite["line_start"], cite["line_end"]
    )  # fmt: skip
    assert cite["doc_id"] in {d["doc_id"] for d in result["listing"]} and len(result["listing"]) == 5


def test_mcp_over_streamable_http(server: RunningServer) -> None:
    async def run() -> dict:
        async with http_session(server.base_url) as session:
            result = await exercise(session, server.base_url)
            bad = await session.call_tool("search", {"query": "   "})
            result["bad"] = bad
            return result

    result = anyio.run(run)
    check(result)
    assert result["bad"].is_error and "empty" in result["bad"].content[0].text.lower()


def test_mcp_needs_the_key_when_the_service_has_one(keyed_server: RunningServer) -> None:
    refused = httpx.post(f"{keyed_server.base_url}/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401

    async def without_key() -> None:
        async with http_session(keyed_server.base_url) as session:
            await session.list_tools()

    with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 in its own error types
        anyio.run(without_key)

    async def with_key() -> dict:
        async with http_session(keyed_server.base_url, API_KEY) as session:
            return await exercise(session, keyed_server.base_url, API_KEY)

    check(anyio.run(with_key))


def test_mcp_over_stdio(server: RunningServer) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "rag", "mcp", "--index", str(server.index_dir)], cwd=str(server.cwd)
    )

    async def run() -> dict:
        async with stdio_client(parameters) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                return await exercise(session, server.base_url)

    check(anyio.run(run))
