"""Typed errors of the library. Messages say what is wrong and how to fix it; the CLI and the API render them."""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error the library raises on purpose."""


class InvalidQueryError(RagError, ValueError):
    """A question is empty, too long, or otherwise unusable."""


class InvalidInputError(RagError, ValueError):
    """An input file (a question set, a corpus file, a dataset) is malformed."""


class DocumentNotFoundError(RagError):
    """No indexed document (or page of one) has the id asked for."""


class IndexNotFoundError(RagError):
    """No index exists where one was expected."""


class IndexMismatchError(RagError):
    """The index on disk was built with another model, format version or settings than the ones in use."""


class IndexCorruptError(RagError):
    """A file of the index is missing, truncated or does not match its recorded checksum."""


class IndexLockedError(RagError):
    """Another process is writing this index (one writer at a time)."""


class VectorStoreError(RagError):
    """The vector store the settings name (a Milvus server or Milvus Lite folder) cannot be reached or used."""


class IndexWriteError(RagError):
    """The index folder cannot be written (disk full, read-only, no permission); the previous build is intact."""


class FileTooLargeError(RagError):
    """An uploaded file is larger than the limit for one file."""


class UnsupportedFileTypeError(RagError):
    """An uploaded file has an ending the indexer does not read, or the settings do not accept."""


class NotUploadedError(RagError):
    """A document indexed from a folder, not uploaded, cannot be deleted through the service."""


class NoDocumentsError(RagError):
    """Nothing indexable was found in the given paths."""


class ModelLoadError(RagError):
    """The embedding model could not be loaded from the configured name or path."""
