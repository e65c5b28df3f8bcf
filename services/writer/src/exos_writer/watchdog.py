"""Progress watchdog: a partition that holds work and has not committed for `stall_s`
is stalled. Readiness turns red naming it, and a gauge counts stalled partitions, so
a writer stuck on one partition (ClickHouse refusing, an insert hanging) is seen even
while it keeps polling and its other partitions move."""

from __future__ import annotations

from collections.abc import Callable

from exos_common.bus import TopicPartition


class ProgressWatchdog:
    def __init__(self, stall_s: float, clock: Callable[[], float]) -> None:
        self._stall_s = stall_s
        self._clock = clock
        self._waiting_since: dict[TopicPartition, float] = {}

    def has_work(self, tp: TopicPartition) -> None:
        """The partition holds records to store (from now, if it held none)."""
        self._waiting_since.setdefault(tp, self._clock())

    def committed(self, tp: TopicPartition, *, work_left: bool) -> None:
        if work_left:
            self._waiting_since[tp] = self._clock()
        else:
            self._waiting_since.pop(tp, None)

    def forget(self, tp: TopicPartition) -> None:
        """The partition went to another writer."""
        self._waiting_since.pop(tp, None)

    def stalled(self) -> list[TopicPartition]:
        now = self._clock()
        return sorted(
            tp for tp, since in self._waiting_since.items() if now - since >= self._stall_s
        )
