"""Shared fixtures: the real model and a real index of the seed corpus, each built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.index import BuildReport, build_index
from rag.search import Searcher
from rag.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds"
DEV_QUESTIONS = Path(__file__).resolve().parent / "data" / "seeds_dev.jsonl"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return Embedder(settings.model, device=settings.device, batch_size=settings.batch_size)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, settings: Settings, embedder: Embedder) -> BuildReport:
    """A real index of a copy of the seed corpus, built once; tests must not modify it."""
    corpus = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, corpus)
    return build_index([corpus], settings, index_dir=tmp_path_factory.mktemp("index"), embedder=embedder)


@pytest.fixture(scope="session")
def seed_searcher(seed_index: BuildReport, settings: Settings, embedder: Embedder) -> Searcher:
    from rag.index import open_index

    searcher = Searcher(open_index(seed_index.index_dir, settings), embedder, settings)
    yield searcher
    searcher.close()


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
