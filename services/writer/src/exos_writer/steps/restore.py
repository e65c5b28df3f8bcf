"""Restore: what a partition's commit metadata says when the writer first sees it: the
incarnation its tokens carry, and the range a previous owner announced and may have
inserted without committing (the batch to re-form exactly).

No commit metadata means a partition this group never committed on, or a topic that
was deleted and recreated (Kafka drops a deleted topic's committed offsets with it):
either way a new incarnation, so new batches never reuse an old batch's token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from exos_common.bus import TopicPartition
from exos_writer.tokens import new_incarnation, parse_mark


@dataclass(frozen=True, slots=True)
class Restored:
    incarnation: str
    pinned: tuple[int, int, str] | None  # first, last, the incarnation it was announced under
    committed: int | None = None  # the group's next offset; None when it has none


class Restorer:
    def __init__(
        self,
        committed: Callable[[TopicPartition], Awaitable[int | None]],
        committed_metadata: Callable[[TopicPartition], Awaitable[str]],
        make_incarnation: Callable[[], str] = new_incarnation,
    ) -> None:
        self._committed = committed
        self._committed_metadata = committed_metadata
        self._make_incarnation = make_incarnation

    async def restore(self, tp: TopicPartition) -> Restored:
        mark = parse_mark(await self._committed_metadata(tp))
        committed = await self._committed(tp)
        # "" is an intent from before incarnations: re-form it under "", go on anew.
        incarnation = mark.incarnation or self._make_incarnation()
        if mark.first is None or mark.last is None or committed != mark.first:
            return Restored(incarnation, None, committed)
        return Restored(incarnation, (mark.first, mark.last, mark.incarnation or ""), committed)
