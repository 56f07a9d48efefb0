"""Search: candidates per mode (dense, BM25, fused), optional reranking, the answering sentence, and ``Hit``s with
their citations."""
