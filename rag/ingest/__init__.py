"""Ingestion: files to ``Document``s (decoding, safe reading, PDF/HTML/DOCX extraction) and ``Document``s to
``Chunk``s along sentence boundaries, sized in model tokens."""
