"""Citations in the reader's coordinates: sources shown relative to the working directory when under it."""

from __future__ import annotations

from pathlib import Path

from rag.search.citation import display_source


def test_display_source_is_relative_only_under_the_working_directory(tmp_path: Path) -> None:
    assert display_source(str(tmp_path / "a" / "b.txt"), cwd=tmp_path) == "a/b.txt"
    assert display_source(str(tmp_path / "a" / "b.txt"), cwd=tmp_path / "a" / "b") == str(tmp_path / "a" / "b.txt")
    assert display_source(str(tmp_path) + "-other/x.txt", cwd=tmp_path) == str(tmp_path) + "-other/x.txt"
    assert display_source(f"{tmp_path}/corpus.jsonl#42", cwd=tmp_path) == "corpus.jsonl#42"
