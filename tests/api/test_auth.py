"""With RAG_API_KEY set, every endpoint but /health (and the page shell) needs the bearer key."""

from __future__ import annotations

import httpx
import pytest
from conftest import API_KEY, RunningServer
from hostile_requests import error_detail
from openai import AuthenticationError, OpenAI

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.server]


PROTECTED = [
    ("GET", "/ready", None),
    ("GET", "/search?q=victory", None),
    ("POST", "/search", {"query": "victory"}),
    ("GET", "/documents", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "victory"}]}),
    ("POST", "/web-search", {"query": "victory", "count": 2}),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_key_is_required(keyed_server: RunningServer, method: str, path: str, body) -> None:
    url = keyed_server.base_url + path
    missing = httpx.request(method, url, json=body)
    assert missing.status_code == 401 and "API key" in error_detail(missing)
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = httpx.request(method, url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    assert right.status_code == 200, right.text


def test_health_and_page_shell_stay_open(keyed_server: RunningServer) -> None:
    assert httpx.get(keyed_server.base_url + "/health").json() == {"status": "ok"}
    assert 'id="query"' in httpx.get(keyed_server.base_url + "/").text


def test_openai_client_with_and_without_the_key(keyed_server: RunningServer) -> None:
    good = OpenAI(base_url=f"{keyed_server.base_url}/v1", api_key=API_KEY, max_retries=0)
    assert [m.id for m in good.models.list()] == ["rag-search"]
    bad = OpenAI(base_url=f"{keyed_server.base_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        bad.models.list()


def test_span_links_open_without_the_key_only_as_signed(keyed_server: RunningServer) -> None:
    """Open WebUI's web loader fetches result links without the key: signed links open exactly their span."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    results = httpx.post(
        keyed_server.base_url + "/web-search", json={"query": "Lachin airport", "count": 2}, headers=headers, timeout=60
    ).json()
    link = results[0]["link"]
    assert "sig=" in link and "expires=" in link and API_KEY not in link
    opened = httpx.get(link, headers={"Accept": "application/json"}, timeout=30)
    assert opened.status_code == 200 and opened.json()["span"]["text"] in results[0]["snippet"]
    assert results[0]["snippet"].endswith(f"({results[0]['title']})")
    start = int(link.split("start=")[1].split("&")[0])
    altered = link.replace(f"start={start}", f"start={max(0, start - 1)}")
    assert httpx.get(altered, timeout=30).status_code == 401
    unsigned = link.split("&expires=")[0]
    assert httpx.get(unsigned, timeout=30).status_code == 401
    assert httpx.get(keyed_server.base_url + "/documents", timeout=30).status_code == 401  # only span links
    chat = httpx.post(
        keyed_server.base_url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Which airport is still being built?"}]},
        headers=headers,
        timeout=60,
    ).json()
    url = chat["choices"][0]["message"]["annotations"][0]["url_citation"]["url"]
    assert "sig=" in url and httpx.get(url, timeout=30).status_code == 200
