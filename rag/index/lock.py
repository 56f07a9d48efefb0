"""One writer per index: an advisory ``flock`` on ``index.lock`` that the kernel releases when its holder dies."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import IndexLockedError

LOCK_NAME = "index.lock"
POLL_SECONDS = 0.05

_held: dict[Path, int] = {}
"""Index folders whose lock this process holds, by the holding thread: that thread may take it again."""


@contextmanager
def writer_lock(index_dir: Path, *, wait: float = 0.0) -> Iterator[None]:
    """One writer per index at a time (an advisory ``flock`` on ``index.lock``); readers never take it. The kernel
    releases the lock when its holder dies, even by SIGKILL, so a crash never leaves the index locked.

    A lock held elsewhere (another process, or another thread of this one) is waited for up to ``wait`` seconds,
    then ``IndexLockedError`` names its holder. The thread holding it may take it again (an upload places its
    files and then builds under one lock)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    key = index_dir.resolve()
    if _held.get(key) == threading.get_ident():
        yield
        return
    with (index_dir / LOCK_NAME).open("a+") as handle:
        _acquire(handle, index_dir, wait)
        _held[key] = threading.get_ident()
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        try:
            yield
        finally:
            del _held[key]
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle, index_dir: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
    handle.seek(0)
    holder = handle.read().strip() or "unknown"
    waited = f" (waited {wait:g} s)" if wait else ""
    raise IndexLockedError(
        f"another rag index is writing {index_dir}/ ({holder}){waited}; wait for it to finish and run again"
    )
