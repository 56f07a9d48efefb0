"""GET /documents and GET /documents/{doc_id}: what is indexed, and a cited span in its context; POST /documents
and DELETE /documents/{doc_id}: documents added and removed over HTTP (``rag.index.uploads``).

Text comes from the metadata store, never from disk, so only indexed documents are served and a span is
always the one that was cited. A browser (Accept: text/html) gets a page with the span highlighted.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse

from api.dependencies import SearcherDep, SettingsDep
from api.errors import documented, excerpt
from api.reload import ServedBuilds
from api.schemas import DocumentDetailOut, DocumentListOut, DocumentOut, DocumentsChangeOut, FileOutcomeOut
from rag.errors import DocumentNotFoundError
from rag.index.store import DocumentInfo
from rag.index.uploads import ManagedChange, UploadedFile, add_documents, check_upload, remove_document
from rag.search.citation import display_source, span_in

router = APIRouter(tags=["documents"])


def document_out(info: DocumentInfo, display_root: Path) -> DocumentOut:
    return DocumentOut(
        doc_id=info.doc_id,
        source=display_source(info.source, display_root),
        date=info.date,
        title=info.title,
        encoding=info.encoding,
        chars=info.n_chars,
        chunks=info.n_chunks,
    )


@router.get("/documents", response_model=DocumentListOut)
def list_documents(searcher: SearcherDep) -> DocumentListOut:
    return DocumentListOut(documents=[document_out(d, searcher.display_root) for d in searcher.documents()])


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentDetailOut,
    responses={200: {"content": {"text/html": {}}}, **documented(404, 422)},
)
def get_document(
    doc_id: str,
    request: Request,
    searcher: SearcherDep,
    start: Annotated[int | None, Query(ge=0, description="Span start (character offset).")] = None,
    end: Annotated[int | None, Query(ge=0, description="Span end (exclusive).")] = None,
    page: Annotated[int | None, Query(ge=1, description="PDF page the offsets count in (as cited).")] = None,
) -> DocumentDetailOut | HTMLResponse:
    """One document's metadata and, with ``start`` and ``end``, the cited span of its text (for a PDF, of the text
    of ``page``, as the citation gives it). Extracted formats serve the extracted text that was indexed."""
    info = searcher.document(doc_id)
    if info is None:
        raise DocumentNotFoundError(
            f"no indexed document with id {excerpt(doc_id, 80)!r}: it was removed, or the link predates ids derived "
            "from the path within the indexed folder (they stay the same when the folder moves); see GET /documents"
        )
    if (start is None) != (end is None):
        raise HTTPException(status_code=422, detail="give both start and end, or neither")
    text = searcher.document_text(doc_id, page, for_span=start is not None)
    span = span_in(text, start, end) if start is not None and end is not None else None
    detail = DocumentDetailOut(**document_out(info, searcher.display_root).model_dump(), span=span)
    if _wants_html(request):
        return HTMLResponse(_render_document(detail, text))
    return detail


@router.post("/documents", response_model=DocumentsChangeOut, responses=documented(409, 413, 415, 422, 503))
def upload_documents(
    request: Request,
    settings: SettingsDep,
    files: Annotated[list[UploadFile], File(description="One or more files (multipart field `files`).")],
) -> DocumentsChangeOut:
    """Add files to the index's managed folder (a file of the same name is replaced) and index them. The service
    answers from the previous build until the new one is committed, and from the new one when this returns. A
    file the indexer cannot read is reported as skipped, with the reason, and not kept. Waits for a running
    ``rag index`` up to ``RAG_UPLOAD_LOCK_WAIT`` seconds, then answers 409."""
    check_upload([(f.filename or "", f.size if f.size is not None else 0) for f in files], settings)
    uploaded = [UploadedFile(f.filename or "", f.file.read()) for f in files]
    builds: ServedBuilds = request.app.state.builds
    current = builds.current
    change = add_documents(current.index.directory, uploaded, settings, embedder=current.embedder)
    return _changed(request, change)


@router.delete("/documents/{doc_id}", response_model=DocumentsChangeOut, responses=documented(404, 409, 422, 503))
def delete_document(doc_id: str, request: Request, settings: SettingsDep) -> DocumentsChangeOut:
    """Remove an uploaded document: its passages leave the index and its file the managed folder. A document
    indexed from a folder is refused with 409 (the next ``rag index`` of that folder would bring it back)."""
    current = request.app.state.builds.current
    change = remove_document(current.index.directory, doc_id, settings, embedder=current.embedder)
    return _changed(request, change)


def _changed(request: Request, change: ManagedChange) -> DocumentsChangeOut:
    """Serve the build the change made (at once, not at the next poll), and describe it from that build."""
    request.app.state.reloader.check()
    with request.app.state.builds.lease() as searcher:
        files = []
        for outcome in change.outcomes:
            info = searcher.document(outcome.doc_id) if outcome.status not in ("skipped", "removed") else None
            document = document_out(info, searcher.display_root) if info is not None else None
            files.append(FileOutcomeOut(file=outcome.name, doc_id=outcome.doc_id, status=outcome.status,
                                        reason=outcome.reason, document=document))  # fmt: skip
        counts = searcher.index.manifest.counts
        return DocumentsChangeOut(
            files=files,
            index_build_id=searcher.index.manifest.build_id,
            documents=counts["documents"],
            chunks=counts["chunks"],
            seconds=round(change.report.seconds, 3),
        )


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if "text/html" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/html") < accept.index("application/json")


def _render_document(detail: DocumentDetailOut, text: str) -> str:
    if detail.span is not None:
        before, cited, after = text[: detail.span.start], detail.span.text, text[detail.span.end :]
        body = f'{html.escape(before)}<mark id="cited">{html.escape(cited)}</mark>{html.escape(after)}'
        where = (
            f"lines {detail.span.line_start}-{detail.span.line_end}, characters {detail.span.start}-{detail.span.end}"
        )
    else:
        body, where = html.escape(text), "whole document"
    date = f" · {html.escape(detail.date)}" if detail.date else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(detail.source)}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
pre{{white-space:pre-wrap;font:inherit}}mark{{background:#ffe58a;padding:.1em 0}}
header{{color:#555;border-bottom:1px solid #ddd;margin-bottom:1rem}}</style></head>
<body><header><h1>{html.escape(detail.source)}</h1><p>{where}{date}</p></header>
<pre>{body}</pre>
<script>const m=document.getElementById("cited");if(m)m.scrollIntoView({{block:"center"}});</script>
</body></html>"""
