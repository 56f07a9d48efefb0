"""Extraction in a child process, under a time limit: one PDF, web page or Word file can neither hang the run nor
take it down.

PDF, HTML and DOCX go through C libraries (PDFium, libxml2) and third-party heuristics (trafilatura) whose worst
cases on hostile or broken files are not ours to bound: a loop that never ends, a crash. Each such file is
extracted in a long-lived child process; a file that takes longer than ``max_extract_seconds`` has its child
killed and is reported, and so is one whose extraction kills the child. The next file gets a fresh child.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from rag.ingest.formats.extracted import load_extracted
from rag.ingest.reading import LoadLimits, display_path, failure_report, file_doc_id
from rag.types import Document, SkippedFile

logger = logging.getLogger(__name__)

Extract = Callable[[Path, bytes, LoadLimits], list[Document | SkippedFile]]
"""What the child runs for one file: a module-level function (it is imported by name in the child)."""


def extract_file(path: Path, data: bytes, limits: LoadLimits) -> list[Document | SkippedFile]:
    """The extraction itself, as the child runs it: any exception becomes the file's report."""
    try:
        return list(load_extracted(path, data, limits))
    except Exception as exc:  # a bug or a parser's surprise on one file must not end the child
        logger.warning("skipped %s after an unexpected error", display_path(path), exc_info=True)
        return [failure_report(path, exc)]


def _serve(connection: Connection, extract: Extract) -> None:
    """The child's loop: a file in, its documents and reports out, until the parent closes the pipe."""
    connection.send("ready")
    while True:
        try:
            path, data, limits = connection.recv()
        except EOFError:
            return
        connection.send(extract(Path(path), data, limits))


class ExtractionWorker:
    """One child process that extracts files in turn, restarted after a file that overran its time or crashed it.
    Started on first use ("spawn": a fresh interpreter, not a fork of a process that may hold model threads)."""

    def __init__(self, extract: Extract = extract_file) -> None:
        self.extract = extract
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def run(self, path: Path, data: bytes, limits: LoadLimits, seconds: float) -> list[Document | SkippedFile]:
        """The file's documents and reports, or a report of why it was stopped; one file at a time."""
        with self._lock:
            connection = self._started()
            try:
                connection.send((str(path), data, limits))
                if connection.poll(seconds):
                    return connection.recv()
                reason = f"extraction took longer than {seconds:g} s (RAG_MAX_EXTRACT_SECONDS): stopped"
            except (EOFError, OSError, BrokenPipeError):
                reason = f"the extractor stopped while reading this file ({self._exit_description()})"
            logger.warning("skipped %s: %s", display_path(path), reason)
            self.close()
            return [SkippedFile(display_path(path), reason, doc_id=file_doc_id(path))]

    def _started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._connection is not None:
            return self._connection
        self.close()
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.extract), daemon=True, name="rag-extract")
        process.start()
        child.close()
        if parent.recv() != "ready":  # the child imports the extractors before it counts against any file's time
            raise RuntimeError("the extraction process did not start")
        self._process, self._connection = process, parent
        return parent

    def _exit_description(self) -> str:
        process = self._process
        if process is None:
            return "not running"
        process.join(timeout=1)
        code = process.exitcode
        return "still running" if code is None else f"exit code {code}"

    def close(self) -> None:
        """Stop the child (killed if it is still busy)."""
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(timeout=5)
        self._process = self._connection = None


_shared: ExtractionWorker | None = None
_shared_lock = threading.Lock()


def extract_within_limit(path: Path, data: bytes, limits: LoadLimits) -> list[Document | SkippedFile]:
    """``load_extracted`` in the shared child process under ``limits.max_extract_seconds`` (in this process when
    the limit is 0)."""
    global _shared
    if limits.max_extract_seconds <= 0:
        return extract_file(path, data, limits)
    with _shared_lock:
        if _shared is None:
            _shared = ExtractionWorker()
            atexit.register(_shared.close)
    return _shared.run(path, data, limits, limits.max_extract_seconds)
