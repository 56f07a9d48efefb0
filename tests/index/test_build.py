"""Index build and open: the manifest, and clear failures for a missing, mismatched or damaged index."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import write_bytes

from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, NoDocumentsError
from rag.index.build import build_index
from rag.index.manifest import FORMAT_VERSION, read_manifest
from rag.index.reader import open_index, verify_index
from rag.settings import Settings


@pytest.fixture
def index_copy(standin_seed_index, tmp_path: Path) -> Path:
    """A copy of the stand-in index of the seeds, to damage (open it with ``standin_settings``)."""
    target = tmp_path / "index"
    shutil.copytree(standin_seed_index.index_dir, target)
    return target


@pytest.mark.slow
@pytest.mark.model
def test_manifest_describes_the_build(seed_index, settings, embedder) -> None:
    manifest = read_manifest(seed_index.index_dir)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model.name == settings.model
    assert manifest.model.dimension == embedder.dimension == 384
    assert manifest.model.max_seq_length == 256
    assert manifest.chunking.chunk_tokens == settings.chunk_tokens
    assert manifest.chunking.overlap_tokens == settings.chunk_overlap_tokens
    assert manifest.counts == {"documents": 5, "chunks": seed_index.chunks, "skipped": 0}
    assert len(manifest.corpus_roots) == 1 and manifest.corpus_roots[0].endswith("seeds")
    assert {"faiss-cpu", "sentence-transformers", "torch"} <= set(manifest.versions)
    for info in manifest.files.values():
        path = seed_index.index_dir / info.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256
        assert path.stat().st_size == info.bytes


@pytest.mark.slow
@pytest.mark.model
def test_open_checks_the_model(seed_index, settings) -> None:
    other = settings.model_copy(update={"model": "some/other-model"})
    with pytest.raises(IndexMismatchError, match="built with model 'sentence-transformers/all-MiniLM-L6-v2'"):
        open_index(seed_index.index_dir, other)


def test_open_refuses_a_standin_index_under_the_default_model(standin_seed_index, standin_settings) -> None:
    with pytest.raises(IndexMismatchError, match=re.escape(f"built with model '{standin_settings.model}'")):
        open_index(standin_seed_index.index_dir, Settings(_env_file=None))


def test_open_checks_the_format_version(index_copy: Path, standin_settings) -> None:
    settings = standin_settings
    manifest_path = index_copy / "manifest.json"
    raw = json.loads(manifest_path.read_text())
    raw["format_version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(raw))
    with pytest.raises(IndexMismatchError, match="format version"):
        open_index(index_copy, settings)


@pytest.mark.parametrize("which", ["vectors.f32", "store.sqlite", "passages.units.npy", "documents.terms.json"])
def test_open_detects_truncated_files_and_check_detects_altered_ones(
    index_copy: Path, standin_settings, which: str
) -> None:
    settings = standin_settings
    (name,) = [name for name in read_manifest(index_copy).files if name.endswith(f"/{which}")]
    path = index_copy / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match=name):  # sizes are checked on every open
        open_index(index_copy, settings)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    assert verify_index(index_copy) == [
        f"index file {path} does not match its checksum; rebuild the index with rag index"
    ]  # checksums are read by rag check (and open_index(verify=True)), not on every open
    with pytest.raises(IndexCorruptError, match=f"{name} does not match its checksum"):
        open_index(index_copy, settings, verify=True)


def test_missing_index_says_how_to_build_one(tmp_path: Path, settings) -> None:
    with pytest.raises(IndexNotFoundError, match="rag index"):
        open_index(tmp_path / "nowhere", settings)


def test_rebuild_replaces_the_previous_build(tmp_path: Path, standin_settings, standin_embedder) -> None:
    settings, embedder = standin_settings, standin_embedder
    corpus = tmp_path / "docs"
    write_bytes(corpus / "a.txt", b"The first version talks about apples.")
    first = build_index([corpus], settings, index_dir=tmp_path / "idx", embedder=embedder)
    write_bytes(corpus / "b.txt", b"A second file talks about pears.")
    second = build_index([corpus], settings, index_dir=tmp_path / "idx", embedder=embedder)
    assert first.manifest.build_id != second.manifest.build_id
    names = sorted(p.name for p in (tmp_path / "idx").iterdir())
    builds = {f.name.split("/")[0] for f in second.manifest.files.values()}
    assert names == sorted({"manifest.json", "index.lock", "embedding-cache.sqlite", *builds})
    index = open_index(tmp_path / "idx", settings)
    assert index.store.count_documents() == 2
    index.close()


def test_nothing_to_index_is_an_error(tmp_path: Path, standin_settings, standin_embedder) -> None:
    settings, embedder = standin_settings, standin_embedder
    write_bytes(tmp_path / "empty.txt", b"")
    with pytest.raises(NoDocumentsError, match="empty"):
        build_index([tmp_path], settings, index_dir=tmp_path / "idx", embedder=embedder)
    assert not (tmp_path / "idx").exists()  # a first build that failed leaves no folder holding only its lock
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.md").write_text("mine")
    with pytest.raises(NoDocumentsError):
        build_index([tmp_path / "empty.txt"], settings, index_dir=tmp_path / "kept", embedder=embedder)
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["index.lock", "notes.md"]  # not ours: kept
