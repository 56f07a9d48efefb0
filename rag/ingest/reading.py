"""Reading files safely: only regular files inside the indexed folder, within size limits, never blocking.

A symbolic link whose target lies outside the folder is never followed, FIFOs, sockets and devices are refused
before they are opened, and ``LoadLimits`` bounds what one file may cost. Every refusal is a ``SkippedFile`` with
its reason.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings
from rag.types import SkippedFile


def _setting_default(name: str) -> object:
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class LoadLimits:
    """What loading may read: which links it follows and how much one file may cost (see ``Settings``)."""

    follow_symlinks: bool = _setting_default("follow_symlinks")  # type: ignore[assignment]
    max_file_bytes: int = _setting_default("max_file_bytes")  # type: ignore[assignment]
    max_extracted_chars: int = _setting_default("max_extracted_chars")  # type: ignore[assignment]
    max_decompressed_bytes: int = _setting_default("max_decompressed_bytes")  # type: ignore[assignment]
    max_compression_ratio: float = _setting_default("max_compression_ratio")  # type: ignore[assignment]
    max_extract_seconds: float = _setting_default("max_extract_seconds")  # type: ignore[assignment]

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadLimits:
        return cls(
            follow_symlinks=settings.follow_symlinks,
            max_file_bytes=settings.max_file_bytes,
            max_extracted_chars=settings.max_extracted_chars,
            max_decompressed_bytes=settings.max_decompressed_bytes,
            max_compression_ratio=settings.max_compression_ratio,
            max_extract_seconds=settings.max_extract_seconds,
        )

    def cut_reason(self, total_chars: int | None = None) -> str:
        """The report line for a text cut at ``max_extracted_chars``; ``total_chars`` when the whole text is
        known (extractors stop reading at the limit, so they cannot say how much was left)."""
        rest = "" if total_chars is None else f", {total_chars - self.max_extracted_chars:,} characters,"
        cut = f"text cut at {self.max_extracted_chars:,} characters (RAG_MAX_EXTRACTED_CHARS)"
        return f"{cut}; the rest{rest} was not indexed"


def failure_report(path: Path | str, exc: Exception) -> SkippedFile:
    """What an unexpected error while reading one file becomes: that file's report (it keeps a previous version)."""
    return SkippedFile(
        display_path(path), f"could not be read ({type(exc).__name__}: {shorten(str(exc))})", doc_id=file_doc_id(path)
    )


def file_doc_id(path: Path | str, root: Path | None = None) -> str:
    """A short, URL-safe id of a file (its path's bytes, so any file name works). Under ``root``, the folder it was
    indexed under, the id is that of the folder's name and the path below it: moving the folder keeps every id
    (and every link to a cited span); without a root, of the absolute path."""
    named = os.fspath(path)
    if root is not None:  # by text, not pathlib: a sync computes this for every file of the folder
        folder = os.fspath(root).rstrip("/") + "/"
        if named.startswith(folder):  # else not below root (not for files the loader found there): the absolute path
            below = named[len(folder) :]
            named = f"{root.name}/{below}" if root.name else below
    return hashlib.blake2b(named.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def display_path(path: Path | str) -> str:
    """A path as text that can always be printed, stored and sent as JSON: bytes of a file name that are not
    UTF-8 are shown as ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_regular_file(path: Path, root: Path, limits: LoadLimits) -> bytes | SkippedFile:
    """The bytes of ``path``, or why they are not read: only a regular file inside ``root`` (a link's target
    included) of at most ``limits.max_file_bytes`` bytes is read."""
    opened = open_regular_file(path, root, limits)
    if isinstance(opened, SkippedFile):
        return opened
    with os.fdopen(opened, "rb") as handle:
        data = handle.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:  # it grew after it was measured
        return SkippedFile(display_path(path), _too_large(len(data), limits))
    return data


def open_regular_file(path: Path, root: Path, limits: LoadLimits, *, sized: bool = True) -> int | SkippedFile:
    """A read-only descriptor of ``path`` if it is a regular file that lies inside ``root`` (itself, or the target of
    a link the settings allow), else why not. Nothing else is ever opened, so a FIFO or a device cannot block the
    run; the descriptor is checked again after opening, so a file swapped for a link in between is refused too.
    ``sized`` applies ``limits.max_file_bytes``."""
    source = display_path(path)
    root = Path(os.path.realpath(root))  # files are compared by their real paths: a relative or linked root too
    try:
        info = os.lstat(path)
    except OSError as exc:
        return SkippedFile(source, f"cannot read: {os_reason(exc)}", doc_id=_kept_on(exc, path))
    target = path
    if stat.S_ISLNK(info.st_mode):
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(root):
            return SkippedFile(
                source, f"symbolic link to {display_path(real)}, outside the indexed folder: never followed"
            )
        if not limits.follow_symlinks:
            return SkippedFile(
                source,
                "symbolic link: not followed (set RAG_FOLLOW_SYMLINKS=true to follow links that stay inside the "
                "indexed folder)",
            )
        try:
            info = os.stat(real)
        except OSError as exc:
            reason = (
                "broken symbolic link: its target does not exist"
                if isinstance(exc, FileNotFoundError)
                else (f"symbolic link that cannot be resolved: {os_reason(exc)}")
            )
            return SkippedFile(source, reason)
        target = real
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for is_kind, name in _FILE_KINDS if is_kind(info.st_mode)), "not a regular file")
        return SkippedFile(source, f"{kind}, not a regular file: not read")
    if sized and info.st_size > limits.max_file_bytes:
        return SkippedFile(source, _too_large(info.st_size, limits))
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        return SkippedFile(source, f"cannot read: {os_reason(exc)}", doc_id=_kept_on(exc, path))
    if not stat.S_ISREG(os.fstat(fd).st_mode) or not _opened_inside(fd, root):
        os.close(fd)
        return SkippedFile(source, "replaced while being opened (by a link or another kind of file): not read")
    return fd


def _opened_inside(fd: int, root: Path) -> bool:
    """Whether the open file lives inside ``root``, by the kernel's own record of its path (Linux); elsewhere the
    checks before opening stand alone."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(root)
    except OSError:
        return True


def _kept_on(exc: OSError, path: Path) -> str | None:
    """The document id whose earlier version stays indexed after ``exc``: a file that exists but cannot be read
    now (permissions, I/O); not one that is gone."""
    return None if isinstance(exc, FileNotFoundError) else file_doc_id(path)


def os_reason(exc: OSError) -> str:
    """The system's own words for ``exc``, lower-cased (``permission denied``)."""
    return exc.strerror.lower() if exc.strerror else str(exc)


def _too_large(size: int, limits: LoadLimits) -> str:
    return f"file is {megabytes(size)}; the limit is {megabytes(limits.max_file_bytes)} (RAG_MAX_FILE_BYTES)"


def megabytes(size: int) -> str:
    """A byte count as megabytes for a report line, for example ``20.0 MB``."""
    return f"{size / 1_000_000:,.1f} MB"


def shorten(text: str, limit: int = 200) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis (for reasons that quote a library's message)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
