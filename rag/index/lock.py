"""One writer per index: an advisory ``flock`` on ``index.lock`` that the kernel releases when its holder dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import IndexLockedError

LOCK_NAME = "index.lock"


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer per index at a time (an advisory ``flock`` on ``index.lock``); readers never take it. The kernel
    releases the lock when its holder dies, even by SIGKILL, so a crash never leaves the index locked."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IndexLockedError(
                f"another rag index is writing {index_dir}/ ({holder}); wait for it to finish and run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
