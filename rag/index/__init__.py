"""The index on disk: a manifest (the commit point) naming one build's FAISS vectors, BM25 arrays and SQLite
store; built incrementally under a writer lock, opened with checks."""
