"""Documents that are not plain text: PDF, HTML (and pages saved as MHTML) and DOCX become a ``Document`` of their
extracted text.

They are cited in the text extracted here, which the index stores and serves: that text is built once, with its
pages, heading sections and tables recorded as spans of it (``TextBuilder``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from rag.ingest.formats.docx import extract_docx
from rag.ingest.formats.html import extract_html, web_archive_page
from rag.ingest.formats.pdf import extract_pdf
from rag.ingest.formats.textbuilder import TextBuilder, UnreadableError
from rag.ingest.reading import LoadLimits, display_path, file_doc_id
from rag.types import WEB_ARCHIVE_SUFFIXES, Document, SkippedFile


def load_extracted(path: Path, data: bytes, limits: LoadLimits | None = None) -> Iterator[Document | SkippedFile]:
    """A PDF, HTML or DOCX file (its ``data``, read once) as a ``Document`` of its extracted text, or why it was
    skipped; pages without text and a cut at ``limits.max_extracted_chars`` are reported beside it."""
    limits = limits or LoadLimits()
    source, doc_id = display_path(path), file_doc_id(path)
    if not data:
        yield SkippedFile(source, "empty file (0 bytes)")
        return
    suffix = path.suffix.lower()
    builder = TextBuilder(limits.max_extracted_chars)
    blank_pages: list[SkippedFile] = []
    try:
        if suffix == ".pdf":
            fmt, title = "pdf", None
            blank_pages = extract_pdf(source, data, builder)
        elif suffix == ".docx":
            fmt, title = "docx", extract_docx(data, builder, limits)
        elif suffix in WEB_ARCHIVE_SUFFIXES:
            fmt, title = "html", extract_html(web_archive_page(data), builder)
        else:
            fmt, title = "html", extract_html(data, builder)
    except UnreadableError as exc:
        yield SkippedFile(source, str(exc), doc_id=doc_id)
        return
    text = builder.build()
    if not text.strip():
        yield SkippedFile(source, f"no text found in this {fmt.upper()} file", doc_id=doc_id)
        return
    yield from blank_pages
    yield Document(
        doc_id=doc_id,
        source=source,
        text=text,
        encoding=f"extracted from {fmt}",
        sha256=hashlib.sha256(data).hexdigest(),
        title=title,
        format=fmt,
        pages=tuple(builder.pages),
        sections=tuple(builder.sections),
        tables=tuple(builder.tables),
    )
    for note in builder.notes:
        yield SkippedFile(source, note, partial=True)
    if builder.full:
        yield SkippedFile(source, limits.cut_reason(), partial=True)
