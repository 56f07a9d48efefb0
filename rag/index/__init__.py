"""The index on disk: immutable segments (vectors, BM25 postings, a SQLite store each) named by a commit point
(``manifest.json``) with the deletions recorded for each; built and updated in proportion to the change under a
writer lock, merged when segments pile up, opened as one index with size checks (``rag check`` reads checksums).

Where each part lives: ``plan`` (what a sync does), ``build`` (doing it), ``writer`` (a new segment), ``segment``
(one opened segment), ``merge`` (merge policy), ``manifest`` (the commit point), ``lock`` (one writer),
``reader`` (the opened index and its views), ``store``, ``vectors``, ``lexical`` (one segment's parts),
``embedding_cache`` (vectors already computed), ``dense`` (dense search on the segments or a Milvus collection)."""
