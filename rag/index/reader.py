"""Opening an index for reading: the manifest checked against the settings, every file against its size (and,
unless told otherwise, its checksum), then the vectors, BM25 and the store loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index.lexical import DocumentLexicalIndex, LexicalIndex
from rag.index.manifest import MANIFEST_NAME, FileInfo, Manifest, file_sha256, read_manifest
from rag.index.store import MetadataStore
from rag.index.vectors import VectorIndex
from rag.settings import Settings


@dataclass
class Index:
    """An opened index: its manifest, vector index, BM25 index and metadata store (the model is loaded separately)."""

    directory: Path
    manifest: Manifest
    vectors: VectorIndex
    lexical: LexicalIndex
    documents: DocumentLexicalIndex
    """BM25 over whole documents, read per passage by hybrid fusion."""
    store: MetadataStore

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_index(index_dir: Path, settings: Settings, *, verify: bool = True) -> Index:
    """Open the index in ``index_dir`` for reading, after checking it was built with ``settings.model`` and that
    its files are whole."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest.model.name != settings.model:
        raise IndexMismatchError(
            f"index in {index_dir}/ was built with model {manifest.model.name!r} but the model setting is "
            f"{settings.model!r}. Set RAG_MODEL={manifest.model.name} to use it, or rebuild with rag index."
        )
    for info in manifest.files.values():
        _check_file(index_dir / info.name, info, verify=verify)
    vectors = VectorIndex.load(index_dir / manifest.files["vectors"].name, manifest.model.dimension)
    if len(vectors) != manifest.counts["chunks"]:
        raise IndexCorruptError(
            f"{index_dir / manifest.files['vectors'].name} holds {len(vectors)} vectors, the manifest says "
            f"{manifest.counts['chunks']}; rebuild the index with rag index"
        )
    lexical_ids = manifest.files.get("lexical/chunk_ids.npy")
    if lexical_ids is None:
        raise IndexCorruptError(f"{index_dir / MANIFEST_NAME} names no BM25 index; rebuild the index with rag index")
    lexical_dir = index_dir / lexical_ids.name.split("/")[0]
    lexical = LexicalIndex.load(lexical_dir, manifest.lexical.tokenizer())
    if len(lexical) != manifest.counts["chunks"]:
        raise IndexCorruptError(
            f"{lexical_dir} holds {len(lexical)} passages, the manifest says {manifest.counts['chunks']}; rebuild "
            "the index with rag index"
        )
    documents_ids = manifest.files.get("documents/passage_ids.npy")
    if documents_ids is None:
        raise IndexCorruptError(
            f"{index_dir / MANIFEST_NAME} names no document BM25 index; rebuild the index with rag index"
        )
    documents = DocumentLexicalIndex.load(index_dir / documents_ids.name.split("/")[0], manifest.lexical.tokenizer())
    if len(documents.chunk_ids) != manifest.counts["chunks"]:
        raise IndexCorruptError(
            f"{index_dir / documents_ids.name} maps {len(documents.chunk_ids)} passages, the manifest says "
            f"{manifest.counts['chunks']}; rebuild the index with rag index"
        )
    store = MetadataStore(index_dir / manifest.files["store"].name, read_only=True)
    return Index(
        directory=index_dir, manifest=manifest, vectors=vectors, lexical=lexical, documents=documents, store=store
    )


def _check_file(path: Path, info: FileInfo, *, verify: bool) -> None:
    if not path.is_file():
        raise IndexCorruptError(f"index file {path} is missing; rebuild the index with rag index")
    size = path.stat().st_size
    if size != info.bytes:
        raise IndexCorruptError(
            f"index file {path} has {size} bytes, the manifest says {info.bytes} (truncated or changed); "
            "rebuild the index with rag index"
        )
    if verify and file_sha256(path) != info.sha256:
        raise IndexCorruptError(f"index file {path} does not match its checksum; rebuild the index with rag index")
