"""The real ``rag`` command in a subprocess: defaults, skipped-file reporting, JSON output and batch with the real
model; errors (one line, exit code 1) with the stand-in model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, SEEDS, run_rag, write_bytes

rag = run_rag


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with ``seeds/`` plus bad files, indexed with the defaults (``rag index``)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(SEEDS, root / "seeds")
    write_bytes(root / "seeds" / "extra" / "image.txt", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    write_bytes(root / "seeds" / "extra" / "broken.txt", "Café crème brûlée à la carte. ".encode() * 4 + b"\xff bad")
    write_bytes(root / "seeds" / "extra" / "empty.md", b"")
    write_bytes(root / "seeds" / ".hidden" / "secret.txt", b"never indexed")
    result = rag("index", cwd=root)
    assert result.returncode == 0, result.stderr
    root.joinpath("index-output.txt").write_text(result.stdout)
    return root


@pytest.mark.slow
@pytest.mark.model
def test_index_reports_documents_chunks_time_and_skipped_files(project: Path) -> None:
    out = project.joinpath("index-output.txt").read_text()
    assert out.startswith("Indexed 5 documents into vectors/: ")
    assert " chunks in " in out and " s (" in out
    assert "Skipped 3:" in out
    assert "seeds/extra/image.txt: binary file" in out
    bad_byte = len("Café crème brûlée à la carte. ".encode()) * 4
    assert f"seeds/extra/broken.txt: invalid UTF-8 at byte {bad_byte}" in out
    assert "seeds/extra/empty.md: empty file" in out
    assert "secret" not in out
    assert (project / "vectors" / "manifest.json").is_file()


@pytest.mark.slow
@pytest.mark.model
def test_search_json_uses_relative_sources_and_exact_spans(project: Path) -> None:
    question = "Which airport in the liberated areas is still being built?"
    result = rag("search", question, "-k", "3", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["query"] == question and payload["answerable"] is True
    assert [r["rank"] for r in payload["results"]] == [1, 2, 3]
    assert any("Lachin International Airport" in r["text"] for r in payload["results"])
    for r in payload["results"]:
        cite = r["citation"]
        assert cite["source"].startswith("seeds/")
        text = (project / cite["source"]).read_bytes().decode("utf-8")
        assert text[cite["start"] : cite["end"]] == r["text"]


@pytest.mark.slow
@pytest.mark.model
def test_search_text_output(project: Path) -> None:
    result = rag("search", "How many women and children were among the Khojaly victims?", "-k", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. [0.")
    assert "seeds/" in lines[0] and ".txt:" in lines[0]
    assert any(line.startswith("2. [") for line in lines)
    assert " relevance " in lines[0] and "seems to answer" not in result.stdout


@pytest.mark.slow
@pytest.mark.model
def test_search_says_plainly_when_nothing_seems_to_answer(project: Path) -> None:
    result = rag("search", "Give me a recipe for chocolate cake.", "-k", "2", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No passage in the index seems to answer this; closest matches:\n")
    assert "1. [" in result.stdout and "2. [" in result.stdout
    as_json = json.loads(rag("search", "Give me a recipe for chocolate cake.", "--json", cwd=project).stdout)
    assert as_json["answerable"] is False and all(r["relevance"] < 0.5 for r in as_json["results"])


@pytest.mark.slow
@pytest.mark.model
def test_batch_writes_one_line_per_question(project: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(DEV_QUESTIONS.read_text() + '{"question": "no id here"}\n')
    out = tmp_path / "out.jsonl"
    result = rag("batch", str(questions), "-k", "3", "--output", str(out), cwd=project)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 16
    assert rows[0]["id"] == "d01" and rows[-1]["id"] == "16"
    assert all(len(row["results"]) == 3 and set(row) == {"id", "question", "answerable", "results"} for row in rows)
    assert [row["answerable"] for row in rows[:15]] == [True] * 15  # every dev question has its answer indexed


@pytest.fixture(scope="module")
def standin_project(tmp_path_factory: pytest.TempPathFactory, standin_seed_index) -> Path:
    """A working directory with the stand-in index of the seeds in ``vectors/`` (run ``rag`` with ``standin_env``)."""
    root = tmp_path_factory.mktemp("standin-project")
    shutil.copytree(standin_seed_index.index_dir, root / "vectors")
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "   "), "the question is empty"),
        (("search", "anything", "--index", "missing"), "no index found in missing/"),
        (("batch", "nope.jsonl"), "cannot read question file nope.jsonl"),
        pytest.param(("search", "anything", "-k", "0"), "k must be between 1 and 100", marks=pytest.mark.slow),
    ],
)
def test_errors_are_one_line_and_exit_1(
    standin_project: Path, standin_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = rag(*args, cwd=standin_project, env=standin_env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_batch_line_names_the_line(
    standin_project: Path, standin_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"question": \n')
    result = rag("batch", str(bad), cwd=standin_project, env=standin_env)
    assert result.returncode == 1 and f"{bad}:2:14: invalid JSON" in result.stderr
    bad.write_text('{"question": "ok"}\n\n{"question": "  "}\n')
    result = rag("batch", str(bad), cwd=standin_project, env=standin_env)
    assert result.returncode == 1 and f"{bad}:3: the question is empty" in result.stderr


def test_serve_on_a_port_in_use_is_one_line_with_what_to_do(standin_project: Path, standin_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = rag("serve", "--port", str(port), cwd=standin_project, env=standin_env, timeout=60)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}") and "--port" in result.stderr
    assert "Serving" not in result.stderr + result.stdout


def test_search_text_keeps_line_breaks_and_table_rows() -> None:
    from types import SimpleNamespace

    from rag.cli import _with_highlight

    rows = ["| model | nDCG@10 | R@100 | notes on the run that make this row longer than the wrapping width |"] * 2
    text = "Results:\n" + "\n".join(rows) + "\n" + "word " * 40 + "\nLast line."
    hit = SimpleNamespace(text=text, highlight=SimpleNamespace(start=0, end=8), citation=SimpleNamespace(start=0))
    shown = _with_highlight(hit).split("\n")  # not a terminal here: the answering sentence between » and «
    assert shown[0] == "»Results:«" and shown[1:3] == rows  # table rows whole, one per line
    assert all(len(line) <= 100 for line in shown[3:]) and shown[-1] == "Last line." and len(shown) == 6


def test_check_reads_every_checksum_and_names_a_damaged_file(
    standin_project: Path, standin_env: dict[str, str]
) -> None:
    index = standin_project / "vectors"
    result = rag("check", cwd=standin_project, env=standin_env)
    assert result.returncode == 0 and result.stdout.startswith("Index in vectors/ is whole: ")
    (store,) = index.glob("seg-*/store.sqlite")
    original = store.read_bytes()
    try:
        store.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # same size: opening would not notice
        result = rag("check", cwd=standin_project, env=standin_env)
        assert result.returncode == 1 and f"index file {store.relative_to(standin_project)}" in result.stderr
        assert "does not match its checksum" in result.stderr
    finally:
        store.write_bytes(original)
