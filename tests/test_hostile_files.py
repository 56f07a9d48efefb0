"""Files that must not hurt the indexer: links out of the folder, pipes, sockets and devices, names that are not
UTF-8, pages nested thousands deep, text on one endless line, DOCX zip bombs, damaged PDFs and manifests, a full
disk and a read-only index folder. Each is skipped or handled with a reason, and the rest of the folder is indexed.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_rag
from hostile_corpus import (
    bad_name,
    deep_html,
    docx_bomb,
    escaping_symlink,
    fifo,
    make_hostile_corpus,
    one_line_text,
    ordinary_files,
)

from rag.errors import IndexWriteError
from rag.index.build import BuildReport, build_index
from rag.index.reader import open_index
from rag.ingest.loading import load_corpus, load_file
from rag.ingest.reading import LoadLimits
from rag.search.searcher import Searcher
from rag.settings import Settings
from rag.types import Document


def reasons(folder: Path, limits: LoadLimits | None = None) -> dict[str, str]:
    """Skipped file -> reason, by path relative to ``folder``."""
    corpus = load_corpus([folder], limits)
    return {s.source.removeprefix(f"{folder}/"): s.reason for s in corpus.skipped}


def loaded_sources(folder: Path, limits: LoadLimits | None = None) -> set[str]:
    return {d.source.removeprefix(f"{folder}/") for d in load_corpus([folder], limits).documents}


# Links ---------------------------------------------------------------------------------------------------------


def test_a_link_out_of_the_folder_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:the secret line")
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    expected = escaping_symlink(corpus, secret)
    (corpus / "notes" / "up.txt").symlink_to("../../outside/passwd")  # relative links too
    for limits in (LoadLimits(), LoadLimits(follow_symlinks=True)):
        found = reasons(corpus, limits)
        assert expected.reason in found[expected.name]
        assert expected.reason in found["notes/up.txt"]
        assert not any("secret" in d.text for d in load_corpus([corpus], limits).documents)
    # named on the command line, a link is checked against its own folder
    named = load_corpus([corpus / "passwd.txt"])
    assert named.documents == [] and "outside the indexed folder" in named.skipped[0].reason


def test_links_inside_the_folder_are_followed_only_when_allowed(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    (corpus / "alias.txt").symlink_to(corpus / "notes" / "harbour.txt")
    (corpus / "linked-folder").symlink_to(corpus / "notes", target_is_directory=True)
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    default = reasons(corpus)
    assert "RAG_FOLLOW_SYMLINKS" in default["alias.txt"]
    assert default["linked-folder"] == "symbolic link to a folder: not followed"
    assert "alias.txt" not in loaded_sources(corpus)
    following = LoadLimits(follow_symlinks=True)
    assert "alias.txt" in loaded_sources(corpus, following)
    assert reasons(corpus, following)["dangling.txt"] == "broken symbolic link: its target does not exist"


def test_a_file_is_read_under_a_relative_or_linked_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check that an opened file lies inside its folder compares real paths: a file named relative to the
    working directory, or under a folder reached through a link, is read, not refused as replaced."""
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    (tmp_path / "docs-link").symlink_to(corpus, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for path, root in [
        (Path("docs/notes/harbour.txt"), None),
        (Path("docs/notes/harbour.txt"), Path("docs")),
        (tmp_path / "docs-link" / "notes" / "harbour.txt", tmp_path / "docs-link"),
    ]:
        (loaded,) = load_file(path, root)
        assert isinstance(loaded, Document), (path, loaded)
        assert loaded.text == (corpus / "notes" / "harbour.txt").read_text()


def test_a_file_replaced_by_an_escaping_link_leaves_the_index(
    tmp_path: Path, standin_settings: Settings, standin_embedder
) -> None:
    """An earlier version of a file must not stay indexed once the file has become a link out of the folder (a
    file that merely cannot be read now keeps its previous version; a link out never does)."""
    settings, embedder = standin_settings, standin_embedder
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code is 4711 and nobody may read it.")
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    (corpus / "passwd.txt").write_text("An ordinary note about the harbour ferry timetable.")
    index_dir = tmp_path / "index"
    build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    (corpus / "passwd.txt").unlink()
    (corpus / "passwd.txt").symlink_to(secret)
    report = build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    assert report.removed == 1 and report.kept == []
    with open_index(index_dir, settings) as index:
        texts = [index.store.document_text(d.doc_id) or "" for d in index.store.documents()]
        assert len(texts) == 3 and not any("vault" in t or "ferry timetable" in t for t in texts)


# Files that are not regular files ------------------------------------------------------------------------------


@pytest.fixture
def odd_files(tmp_path: Path) -> Iterator[Path]:
    """A folder with a FIFO, a listening socket and (as root) a character device, all with indexed endings."""
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    fifo(corpus)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(corpus / "socket.md"))
    server.listen()
    try:
        os.mknod(corpus / "zero.txt", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: reads never end
    except PermissionError:
        pass
    yield corpus
    server.close()


def test_pipes_sockets_and_devices_are_skipped_without_blocking(odd_files: Path) -> None:
    found = reasons(odd_files)
    assert found["pipe.txt"] == "a named pipe (FIFO), not a regular file: not read"
    assert found["socket.md"] == "a socket, not a regular file: not read"
    if (odd_files / "zero.txt").exists():
        assert found["zero.txt"] == "a character device, not a regular file: not read"
    assert loaded_sources(odd_files) == {"notes/harbour.txt", "notes/orchard.md", "report.html"}


@pytest.mark.slow  # a rag subprocess that loads a model
def test_rag_index_finishes_with_a_fifo_in_the_folder(odd_files: Path, tmp_path: Path, standin_env) -> None:
    """The audit's hang: ``rag index`` blocked forever in open() while holding the writer lock."""
    try:
        index_dir = str(tmp_path / "index")
        result = run_rag("index", str(odd_files), "--index", index_dir, cwd=tmp_path, env=standin_env, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("rag index hung on a folder with a FIFO")
    assert result.returncode == 0, result.stderr
    assert "Indexed 3 documents" in result.stdout
    assert "pipe.txt: a named pipe (FIFO), not a regular file: not read" in result.stdout


# One file never ends the run -----------------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_indexed_and_printable(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    expected = bad_name(corpus)
    (document,) = load_corpus([corpus]).documents
    assert document.source == f"{corpus}/{expected.name}"
    document.source.encode("utf-8")  # storable, printable and JSON-safe
    assert document.text == "The lighthouse keeper painted the stairs blue."


def test_deep_html_is_walked_without_recursion_and_absurd_depth_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    indexed = deep_html(corpus, 1_500)  # deeper than Python's recursion limit
    refused = deep_html(corpus, 100_000)
    documents = {d.source.removeprefix(f"{corpus}/"): d for d in load_corpus([corpus]).documents}
    assert documents[indexed.name].text == "The well at the bottom is dry."
    assert "nested 100,000 deep" in reasons(corpus)[refused.name]


def test_text_past_the_character_limit_is_cut_and_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    one_line_text(corpus, 300_000)
    limits = LoadLimits(max_extracted_chars=100_000)
    (document,) = load_corpus([corpus], limits).documents
    assert len(document.text) == 100_000
    assert (corpus / "oneline.txt").read_text().startswith(document.text)
    assert reasons(corpus, limits)["oneline.txt"] == (
        "text cut at 100,000 characters (RAG_MAX_EXTRACTED_CHARS); the rest, 200,000 characters, was not indexed"
    )


def test_a_file_over_the_size_limit_is_skipped_unread(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    one_line_text(corpus, 3_000_000)
    found = reasons(corpus, LoadLimits(max_file_bytes=1_000_000))
    assert found["oneline.txt"] == "file is 3.0 MB; the limit is 1.0 MB (RAG_MAX_FILE_BYTES)"


def test_an_unexpected_error_in_one_file_is_reported_and_the_rest_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "docs"
    ordinary_files(corpus)

    def explode(*args, **kwargs):
        raise RuntimeError("the parser fell over")

    monkeypatch.setattr("rag.ingest.formats.extracted.extract_html", explode)
    in_process = LoadLimits(max_extract_seconds=0)  # the patch reaches this process only (see test_worker.py)
    assert reasons(corpus, in_process)["report.html"] == "could not be read (RuntimeError: the parser fell over)"
    assert loaded_sources(corpus, in_process) == {"notes/harbour.txt", "notes/orchard.md"}


# DOCX zip bombs -------------------------------------------------------------------------------------------------


def test_docx_bombs_are_refused_before_they_inflate(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    bomb = docx_bomb(corpus, 60_000_000)  # under the default total, but inflating thousands of times
    assert (corpus / bomb.name).stat().st_size < 200_000
    found = reasons(corpus)[bomb.name]
    assert found.startswith("part word/document.xml would inflate ") and found.endswith("a zip bomb?")
    assert "RAG_MAX_COMPRESSION_RATIO" in found
    total = reasons(corpus, LoadLimits(max_decompressed_bytes=10_000_000))[bomb.name]
    assert total == "its parts would inflate to 60.0 MB; the limit is 10.0 MB (RAG_MAX_DECOMPRESSED_BYTES)"


# PDFs that are broken, not scanned ------------------------------------------------------------------------------


def _raw_pdf(objects: list[bytes]) -> bytes:
    """A minimal PDF with the given objects (1 0 obj is the catalog) and a correct cross-reference table."""
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_a_pdf_with_reference_loops_is_called_damaged_not_scanned(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    (corpus / "content-loop.pdf").write_bytes(
        _raw_pdf(
            [
                catalog,
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 3 0 R >>",
            ]
        )
    )
    (corpus / "tree-loop.pdf").write_bytes(_raw_pdf([catalog, b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]))
    found = reasons(corpus)
    assert found["content-loop.pdf"] == "none of its 1 pages holds text or images: an empty or damaged PDF"
    assert found["tree-loop.pdf"].startswith("not a readable PDF (")
    assert not any("OCR" in reason for reason in found.values())


# BEIR corpora named on the command line --------------------------------------------------------------------------


def test_a_jsonl_corpus_loses_only_its_bad_lines_and_is_checked_like_any_file(tmp_path: Path) -> None:
    corpus = tmp_path / "beir" / "corpus.jsonl"
    corpus.parent.mkdir()
    corpus.write_bytes(
        b'{"_id": "a", "text": "first"}\n{"_id": "b", "text": "bad \xff byte"}\n{"_id": "c", "text": "ok"}\n'
    )
    loaded = load_corpus([corpus])
    assert [d.doc_id for d in loaded.documents] == ["a", "c"]
    assert [(s.source, s.reason) for s in loaded.skipped] == [(f"{corpus}:2", "invalid UTF-8 at byte 26 of the line")]
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"_id": "x", "text": "not to be read through a link"}\n')
    link = tmp_path / "beir" / "linked.jsonl"
    link.symlink_to(outside)
    assert "outside the indexed folder" in load_corpus([link]).skipped[0].reason


# The index folder ------------------------------------------------------------------------------------------------


@pytest.mark.slow  # rag subprocesses that load a model
def test_a_manifest_that_is_not_utf8_is_one_line_and_index_rebuilds_over_it(
    tmp_path: Path, standin_settings: Settings, standin_env
) -> None:
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    assert run_rag("index", str(corpus), "--index", "index", cwd=tmp_path, env=standin_env).returncode == 0
    (tmp_path / "index" / "manifest.json").write_bytes(b'{"format_version": \xff\xfe}')
    searched = run_rag("search", "pear varieties", "--index", "index", cwd=tmp_path, env=standin_env)
    assert searched.returncode == 1 and "Traceback" not in searched.stderr
    assert searched.stderr.startswith("Error: index/manifest.json is not a readable manifest (UnicodeDecodeError")
    assert "rebuild the index with rag index" in searched.stderr
    rebuilt = run_rag("index", str(corpus), "--index", "index", cwd=tmp_path, env=standin_env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Indexed 3 documents" in rebuilt.stdout
    with open_index(tmp_path / "index", standin_settings) as index:
        assert index.manifest.counts["documents"] == 3


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: room for a tiny index, not for a large update. Needs root (CI runs as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def index_on(disk: Path, tmp_path: Path, settings: Settings, embedder) -> tuple[Path, Path, BuildReport]:
    """The ordinary files indexed into ``disk/index``: the corpus, the index folder and the build's report."""
    corpus = tmp_path / "docs"
    ordinary_files(corpus)
    index_dir = disk / "index"
    return corpus, index_dir, build_index([corpus], settings, index_dir=index_dir, embedder=embedder)


# The real model: with the stand-in's smaller vectors the disk often fills inside np.save (the BM25 arrays), whose
# short write (OSError without errno) rag does not recognise as a full disk.
@pytest.mark.slow
@pytest.mark.model
def test_a_full_disk_is_one_error_and_keeps_the_previous_build(
    small_disk: Path, tmp_path: Path, settings: Settings, embedder
) -> None:
    corpus, index_dir, first = index_on(small_disk, tmp_path, settings, embedder)
    one_line_text(corpus, 100_000, "big.txt")  # hundreds of passages: more than the disk holds
    with pytest.raises(IndexWriteError, match="the disk is full") as raised:
        build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    assert str(raised.value).startswith(f"cannot write the index in {index_dir}/")
    assert sorted(p.name for p in index_dir.iterdir() if p.name.startswith("seg-")) == [
        s.name for s in first.manifest.segments
    ]  # the unfinished segment was removed
    with Searcher(open_index(index_dir, settings), embedder, settings) as searcher:
        assert "pear" in searcher.search("How many varieties of pear grow in the orchard?", 1)[0].text


@pytest.mark.slow  # rag subprocesses that load a model
def test_a_read_only_index_folder_is_one_line_and_still_searchable(
    small_disk: Path, tmp_path: Path, standin_settings: Settings, standin_embedder, standin_env
) -> None:
    corpus, index_dir, _ = index_on(small_disk, tmp_path, standin_settings, standin_embedder)
    (corpus / "notes" / "new.txt").write_text("A new note about the tide tables.")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = run_rag("index", str(corpus), "--index", str(index_dir), cwd=tmp_path, env=standin_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: cannot write the index in {index_dir}/")
    assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    searched = run_rag("search", "glacier", "--index", str(index_dir), "--json", cwd=tmp_path, env=standin_env)
    assert searched.returncode == 0 and "retreated four metres" in searched.stdout


# The whole hostile corpus, over HTTP -----------------------------------------------------------------------------


def test_a_hostile_corpus_indexes_and_serves_only_what_it_should(
    tmp_path: Path, standin_settings: Settings, standin_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every hostile file of the audit in one folder (at test sizes): the build finishes, names each one with its
    reason, and the service (in-process, run from the folder above the corpus) serves the ordinary files and never
    the linked secret."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings, embedder = standin_settings, standin_embedder
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:the-vault-password-is-swordfish")
    corpus = tmp_path / "work" / "docs"
    sentences, hostile = make_hostile_corpus(
        corpus, secret, html_depths=(1_500, 100_000), one_line_bytes=300_000, bomb_bytes=60_000_000
    )
    report = build_index(
        [corpus], settings.model_copy(update={"max_extracted_chars": 50_000}), index_dir=tmp_path / "index",
        embedder=embedder,
    )  # fmt: skip
    found = {s.source.removeprefix(f"{corpus}/"): s.reason for s in report.skipped}
    for expected in hostile:
        if expected.reason:
            assert expected.reason in found[expected.name], (expected, found)
        else:
            assert expected.name not in found
    assert report.documents == len(sentences) + 3  # bad name, deep HTML and the cut one-line text are indexed
    monkeypatch.chdir(tmp_path / "work")
    served = settings.model_copy(update={"reload_interval": 0})
    searcher = Searcher(open_index(tmp_path / "index", served), embedder, served)
    with searcher, TestClient(create_app(served, searcher=searcher)) as http:
        listed = http.get("/documents").json()["documents"]
        assert "docs/passwd.txt" not in {d["source"] for d in listed}
        assert "docs/bad\\xff\\xfename.txt" in {d["source"] for d in listed}
        for question, answer in [
            ("Who logs the ferries that dock after midnight?", "harbour master"),
            ("What colour were the lighthouse stairs painted?", "painted the stairs blue"),
            ("Is the well at the bottom dry?", "The well at the bottom is dry."),
        ]:
            results = http.post("/search", json={"query": question, "top_k": 3}).json()["results"]
            assert any(answer in r["text"] for r in results), (question, results)
        for probe in ("root password vault swordfish", "root:x:0:0"):
            results = http.get("/search", params={"q": probe, "k": 20}).json()["results"]
            assert results and not any("swordfish" in r["text"] or "passwd" in str(r["citation"]) for r in results)
        for document in listed:
            assert "swordfish" not in http.get(f"/documents/{document['doc_id']}").text
