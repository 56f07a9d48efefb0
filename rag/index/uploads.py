"""The managed folder of an index: documents added and removed through the service (``POST`` and ``DELETE
/documents``), kept in ``<index>/uploads/`` and indexed like any other folder.

A change is made under the index's writer lock (waiting for a running ``rag index`` up to a limit): the files are
placed, then only the managed folder is synced (documents indexed from other folders stay as they are), and a
file the indexer skips is taken back out, its previous version restored, so that the folder never holds what the
index refused and nothing indexed before is lost. The previous build keeps answering until the new one is
committed; the service then switches to it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.embedding import Embedder
from rag.errors import (
    DocumentNotFoundError,
    FileTooLargeError,
    InvalidInputError,
    NotUploadedError,
    RagError,
    UnsupportedFileTypeError,
)
from rag.index.build import MANAGED_FOLDER, BuildReport, build_index
from rag.index.lock import writer_lock
from rag.index.reader import open_index
from rag.ingest.reading import file_doc_id
from rag.settings import Settings

logger = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "skipped", "removed"]


@dataclass(frozen=True)
class UploadedFile:
    """One file of an upload: the name it is stored under in the managed folder, and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: its document id, and why it was skipped when it was."""

    name: str
    doc_id: str
    status: Status
    reason: str | None = None


@dataclass(frozen=True)
class ManagedChange:
    """Per file what happened, and the build that made it so (its report, for counts and timing)."""

    outcomes: list[FileOutcome]
    report: BuildReport


def managed_folder(index_dir: Path) -> Path:
    """The managed folder of ``index_dir``, created if need be, as an absolute path (as the loader records it)."""
    folder = index_dir / MANAGED_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def check_upload(files: list[tuple[str, int]], settings: Settings) -> None:
    """Refuse an upload before anything is written: too many files, a name that is not a plain file name, a name
    given twice, an ending the settings do not accept, a file over ``max_file_bytes``. ``files``: names and
    sizes."""
    if not files:
        raise InvalidInputError("no file in the request: send one or more files as multipart form field 'files'")
    if len(files) > settings.upload_max_files:
        raise InvalidInputError(
            f"{len(files)} files in one request; at most {settings.upload_max_files} (RAG_UPLOAD_MAX_FILES)"
        )
    seen: set[str] = set()
    for name, size in files:
        _check_name(name)
        if name.lower() in seen:
            raise InvalidInputError(f"file name {name!r} is given twice")
        seen.add(name.lower())
        suffix = Path(name).suffix.lower()
        if suffix not in settings.upload_types:
            raise UnsupportedFileTypeError(
                f"{name!r}: file type {suffix or '(none)'!r} is not accepted; accepted: "
                f"{', '.join(settings.upload_types)} (RAG_UPLOAD_TYPES)"
            )
        if size > settings.max_file_bytes:
            raise FileTooLargeError(
                f"{name!r} is {size} bytes, more than the limit of {settings.max_file_bytes} (RAG_MAX_FILE_BYTES)"
            )


def _check_name(name: str) -> None:
    if not name or name in {".", ".."} or name != name.strip():
        raise InvalidInputError(f"file name {name!r} is empty or starts or ends with a space")
    if "/" in name or "\\" in name or "\x00" in name:
        raise InvalidInputError(f"file name {name!r} must be a plain name, without folders")
    if name.startswith("."):
        raise InvalidInputError(f"file name {name!r} starts with '.': hidden files are never indexed")
    if any(ord(c) < 32 for c in name) or len(name.encode("utf-8", "surrogatepass")) > 255:
        raise InvalidInputError(f"file name {name!r} has control characters or is longer than 255 bytes")


def add_documents(
    index_dir: Path, files: list[UploadedFile], settings: Settings, *, embedder: Embedder | None = None
) -> ManagedChange:
    """Place ``files`` in the managed folder (replacing files of the same name) and index them; a file the indexer
    skips is taken back out and reported with the reason."""
    check_upload([(f.name, len(f.data)) for f in files], settings)
    with writer_lock(index_dir, wait=settings.upload_lock_wait), _staging(index_dir) as staging:
        folder = managed_folder(index_dir)
        before = _indexed_hashes(index_dir, settings, [file_doc_id(folder / f.name, folder) for f in files])
        placed = [_place(folder, staging, f) for f in files]
        try:
            report = build_index([folder], settings, index_dir=index_dir, embedder=embedder, keep_others=True)
        except BaseException:
            for target, backup in placed:
                _put_back(target, backup)
            raise
        reasons = {s.source: s.reason for s in report.skipped if not s.partial}
        outcomes, restored = [], False
        for file, (target, backup) in zip(files, placed, strict=True):
            doc_id = file_doc_id(target, folder)
            reason = reasons.get(str(target))
            if reason is not None:
                _put_back(target, backup)
                restored = restored or backup is not None
                outcomes.append(FileOutcome(file.name, doc_id, "skipped", reason))
            elif doc_id not in before:
                outcomes.append(FileOutcome(file.name, doc_id, "added"))
            else:
                same = before[doc_id] == hashlib.sha256(file.data).hexdigest()
                outcomes.append(FileOutcome(file.name, doc_id, "unchanged" if same else "updated"))
        if restored:  # a refused new version: index the restored previous one again (its passages are cached)
            report = build_index([folder], settings, index_dir=index_dir, embedder=embedder, keep_others=True)
    logger.info("upload: %s", ", ".join(f"{o.name} {o.status}" for o in outcomes))
    return ManagedChange(outcomes, report)


def remove_document(
    index_dir: Path, doc_id: str, settings: Settings, *, embedder: Embedder | None = None
) -> ManagedChange:
    """Delete an uploaded document's file and its passages. A document indexed from another folder is refused
    (``NotUploadedError``): the next ``rag index`` of that folder would bring it back."""
    with writer_lock(index_dir, wait=settings.upload_lock_wait), _staging(index_dir) as staging:
        folder = managed_folder(index_dir)
        index = open_index(index_dir, settings)
        try:
            info = index.store.document(doc_id)
        finally:
            index.close()
        if info is None:
            raise DocumentNotFoundError(f"no indexed document with id {doc_id!r}; see GET /documents")
        source = Path(info.source)
        if source.parent != folder:
            raise NotUploadedError(
                f"document {doc_id!r} was indexed from {info.source}, not uploaded: only uploaded documents can be "
                "deleted over HTTP; delete the file there and run rag index"
            )
        backup = None
        if source.exists():
            backup = staging / "removed"
            os.replace(source, backup)
        try:
            report = build_index([folder], settings, index_dir=index_dir, embedder=embedder, keep_others=True)
        except BaseException:
            _put_back(source, backup)
            raise
    logger.info("removed uploaded document %s (%s)", doc_id, source.name)
    return ManagedChange([FileOutcome(source.name, doc_id, "removed")], report)


@contextmanager
def _staging(index_dir: Path) -> Iterator[Path]:
    """A private folder beside the managed one (same file system, so that moves are atomic renames), removed on
    exit; hidden, so that no sync ever reads it."""
    path = Path(tempfile.mkdtemp(prefix=".upload-", dir=index_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _place(folder: Path, staging: Path, file: UploadedFile) -> tuple[Path, Path | None]:
    """Write ``file`` into the managed folder; a file it replaces is moved into ``staging`` (returned) until the
    new version is known to index."""
    staged = staging / f"new-{file.name}"
    staged.write_bytes(file.data)
    target = folder / file.name
    backup = None
    if target.exists():
        backup = staging / f"old-{file.name}"
        os.replace(target, backup)
    os.replace(staged, target)
    return target, backup


def _put_back(target: Path, backup: Path | None) -> None:
    """Undo ``_place``: the previous version back, or no file at all."""
    if backup is not None:
        os.replace(backup, target)
    else:
        target.unlink(missing_ok=True)


def _indexed_hashes(index_dir: Path, settings: Settings, doc_ids: list[str]) -> dict[str, str]:
    """The content hash of each of ``doc_ids`` the index holds now."""
    try:
        index = open_index(index_dir, settings)
    except RagError:  # no readable index yet: every file is new, and the build says what is wrong
        return {}
    try:
        infos = {doc_id: index.store.document(doc_id) for doc_id in doc_ids}
    finally:
        index.close()
    return {doc_id: info.sha256 for doc_id, info in infos.items() if info is not None}
