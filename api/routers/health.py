"""GET /health (the process is up) and GET /ready (the index, its vector store and the model are loaded, with their
counts); both answer HEAD too, which load balancers probe with."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.dependencies import SearcherDep
from api.schemas import HealthOut, ReadyOut, VectorStoreOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
@router.head("/health", response_model=HealthOut)
def health() -> HealthOut:
    return HealthOut()


@router.get("/ready", response_model=ReadyOut)
@router.head("/ready", response_model=ReadyOut)
def ready(searcher: SearcherDep, request: Request) -> ReadyOut:
    manifest = searcher.manifest
    store = searcher.index.vectors.status()
    return ReadyOut(
        model=manifest.model.name,
        dimension=manifest.model.dimension,
        documents=manifest.counts["documents"],
        chunks=manifest.counts["chunks"],
        index_build_id=manifest.build_id,
        index_built_at=manifest.created_at,
        mode=searcher.settings.mode,
        reranker=searcher.reranker.name if searcher.reranker else None,
        vector_store=VectorStoreOut(
            kind=store.kind, address=store.location if store.kind == "milvus" else None, vectors=store.vectors
        ),
        reload_error=reloader.last_error if (reloader := getattr(request.app.state, "reloader", None)) else None,
    )
