"""The build plan: what a sync does, decided file by file as the folder streams past, before any model loads.

Each file is new, changed (its bytes differ from the indexed version), unchanged (recognised by size and
modification time, or by hash), moved (unchanged, read from a new path), unreadable now (its indexed version is
kept) or skipped; what the index holds and the folder no longer has is gone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from rag.types import Document, KnownFile, SkippedFile, UnchangedFile


@dataclass
class BuildPlan:
    """Grows as the corpus is read (``see``), then is closed (``finish``) to name what is gone."""

    known: dict[str, KnownFile]
    """What the index holds: document id -> its file's hash, size, time and path."""
    scope: tuple[str, ...] | None = None
    """Folders (absolute paths) this sync answers for; a document indexed from elsewhere is never gone (None: the
    sync covers the whole index, as ``rag index`` does)."""
    fresh: int = 0
    """New and changed documents: chunked and embedded."""
    loaded: int = 0
    """Documents read (fresh ones, including those that turn out to have no passage)."""
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    moved: dict[str, str] = field(default_factory=dict)
    """Unchanged documents now read from another path (their folder moved): copied with the new path, not
    re-embedded."""
    skipped: list[SkippedFile] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Documents no longer in the folders: their passages leave the index."""
    kept: list[str] = field(default_factory=list)
    """Documents indexed before that cannot be read now: their previous version stays."""
    _current: set[str] = field(default_factory=set)
    _unreadable: set[str] = field(default_factory=set)

    def see(self, item: Document | SkippedFile | UnchangedFile) -> Document | None:
        """Record one loaded item; returns it when it is a document to (re-)index."""
        if isinstance(item, SkippedFile):
            self.skipped.append(item)
            if item.doc_id is not None and item.doc_id in self.known:
                self._unreadable.add(item.doc_id)
            return None
        self._current.add(item.doc_id)
        previous = self.known.get(item.doc_id)
        if isinstance(item, UnchangedFile) or (previous is not None and previous.sha256 == item.sha256):
            self.unchanged += 1
            if previous is not None and previous.source is not None and previous.source != item.source:
                self.moved[item.doc_id] = item.source
            return None
        self.fresh += 1
        self.loaded += 1
        if previous is not None:
            self.changed.append(item.doc_id)
        return item

    def unindexable(self, doc_id: str) -> None:
        """A fresh document that yielded no passage (nothing after its header, or the chunker failed): a version
        indexed before is deleted all the same (it is in ``changed``)."""
        self.fresh -= 1

    def finish(self) -> BuildPlan:
        self.gone = [
            d for d, file in self.known.items()
            if d not in self._current and d not in self._unreadable and self._in_scope(file)
        ]  # fmt: skip
        self.kept = sorted(d for d in self._unreadable if d not in self._current)
        return self

    def _in_scope(self, file: KnownFile) -> bool:
        if self.scope is None:
            return True
        return file.source is not None and any(file.source.startswith(folder + os.sep) for folder in self.scope)

    @property
    def removed(self) -> list[str]:
        """Documents whose indexed passages are deleted: changed and gone ones."""
        return [*self.changed, *self.gone]

    @property
    def nothing_to_do(self) -> bool:
        return not self.fresh and not self.removed and not self.moved
