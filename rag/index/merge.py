"""Merges: when segments pile up, neighbours are rewritten as one, without their deleted passages.

Every update adds a segment, and a search costs a little more per segment, so after an update the index holds at
most ``Settings.max_segments``: the two neighbours with the fewest live passages are joined until it does (merging
neighbours keeps chunk ids ascending across segments). A segment more than half deleted is rewritten too. Merging
copies rows, vectors and postings; nothing is re-embedded or re-tokenised. A merge that reaches the HNSW threshold
builds a graph, which is the costly case; the policy merges small segments first, so a large one is rewritten
rarely.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from rag.index.segment import Segment, SegmentInfo
from rag.index.writer import SegmentWriter

logger = logging.getLogger(__name__)


def merge_groups(segments: Sequence[SegmentInfo], max_segments: int) -> list[list[int]]:
    """Runs of neighbouring segments (by position in ``segments``) to merge: each run becomes one segment."""
    groups = [[n] for n in range(len(segments))]
    sizes = [s.live_chunks for s in segments]
    while len(groups) > max_segments:
        pair = min(range(len(groups) - 1), key=lambda i: sizes[i] + sizes[i + 1])
        groups[pair : pair + 2] = [groups[pair] + groups[pair + 1]]
        sizes[pair : pair + 2] = [sizes[pair] + sizes[pair + 1]]

    def mostly_deleted(n: int) -> bool:  # a lone segment more than half deleted is rewritten without its dead
        return segments[n].deleted_chunks * 2 > segments[n].chunks

    return [group for group in groups if len(group) > 1 or mostly_deleted(group[0])]


def merge(segments: Sequence[Segment], new_writer: Callable[[int], SegmentWriter]) -> SegmentInfo:
    """One segment holding the live documents of ``segments`` (neighbours, in order), chunk ids unchanged;
    ``new_writer(first_chunk)`` opens the writer of the merged segment."""
    writer = new_writer(segments[0].info.first_chunk)
    try:
        for segment in segments:
            live = segment.live_documents(segment.live())
            doc_ids = [d.doc_id for number, d in enumerate(segment.store.documents()) if live[number]]
            writer.copy(segment, doc_ids, keep_ids=True)
        info = writer.finish()
    except BaseException:
        writer.abandon()
        raise
    logger.info("merged %s into %s (%d passages)", ", ".join(s.info.name for s in segments), info.name, info.chunks)
    return info
