"""Dead click: a click after which the page did not change within a window (500 ms).

"Changed" is read from the session's rrweb recording: a DOM mutation (incremental
snapshot, source 0), an input or media change, or a new page (meta / full snapshot) at
a time in [click, click + window]. Replay and spans come on two topics in batches (5 s
and 4 s), so either can be ahead:

- replay behind the click: the click waits until the session's replay has passed
  click + window (rrweb event time), then is decided;
- replay ahead: DOM-change times are remembered (merged into intervals, so a busy page
  costs a few entries, not one per mutation) for `history_s`, and a click arriving
  later is decided at once.

A click is never called dead without that evidence: when the session has no replay
(recording off or sampled out), the replay never passes the window, the click predates
the recording or the remembered history, it is dropped undecided after `wait_s` of wall
time and counted in `undecided`. Clicks on form fields (focus changes no DOM) are not
judged. Time skew between the span clock (performance.timeOrigin + now) and rrweb's
Date.now() is not corrected: a few milliseconds at most on one page.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass

from exos_enrich.frustration.rrweb import RrwebEvent
from exos_enrich.frustration.signals import NS_PER_MS, NS_PER_S, Candidate, Click

RULE = "dead_click"


# How far rrweb's and the spans' clocks may disagree (see _decide).
CLOCK_TOLERANCE_NS = 20_000_000


class ResponseHistory:
    """Times of DOM changes as merged intervals. Two changes closer than the window are
    one interval; that keeps "is there a change in [t, t + window]" exact (any
    overlapping interval has a point inside the window, since gaps are <= window).
    Stored as two int64 arrays (16 bytes an interval), sorted, non-overlapping."""

    __slots__ = ("_cap", "_ends", "_gap_ns", "_starts", "floor_ns")

    def __init__(self, gap_ns: int, cap: int) -> None:
        self._gap_ns = gap_ns
        self._cap = cap
        self._starts = array("q")
        self._ends = array("q")
        self.floor_ns = 0  # before this time the history is incomplete

    def add(self, timestamp_ns: int) -> None:
        starts, ends, gap = self._starts, self._ends, self._gap_ns
        if ends and timestamp_ns <= ends[-1] + gap:
            if timestamp_ns >= starts[-1] - gap:
                starts[-1] = min(starts[-1], timestamp_ns)
                ends[-1] = max(ends[-1], timestamp_ns)
            else:
                self._insert_out_of_order(timestamp_ns)
            return
        starts.append(timestamp_ns)
        ends.append(timestamp_ns)
        if len(ends) > self._cap:
            self.floor_ns = max(self.floor_ns, ends[0] + 1)
            del starts[0], ends[0]

    def _insert_out_of_order(self, timestamp_ns: int) -> None:
        merged: list[list[int]] = []
        pairs = [*zip(self._starts, self._ends, strict=True), (timestamp_ns, timestamp_ns)]
        for start, end in sorted(pairs):
            if merged and start <= merged[-1][1] + self._gap_ns:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        merged = merged[-self._cap :]
        self._starts = array("q", (start for start, _ in merged))
        self._ends = array("q", (end for _, end in merged))

    def any_between(self, low_ns: int, high_ns: int) -> bool:
        # The first interval ending at or after low_ns is the only candidate.
        index = bisect.bisect_left(self._ends, low_ns)
        return index < len(self._ends) and self._starts[index] <= high_ns

    def forget_before(self, timestamp_ns: int) -> None:
        index = bisect.bisect_left(self._ends, timestamp_ns)
        if index:
            del self._starts[:index], self._ends[:index]
        self.floor_ns = max(self.floor_ns, timestamp_ns)

    def __len__(self) -> int:
        return len(self._ends)

    def intervals(self) -> tuple[list[int], list[int]]:
        return self._starts.tolist(), self._ends.tolist()

    def load(self, starts: list[int], ends: list[int], floor_ns: int) -> None:
        """Intervals of a snapshot, trimmed to this history's cap as `add` would (the
        oldest ones go and the floor moves past them). Raises ValueError when the two
        lists differ in length, OverflowError when a time is out of int64."""
        if len(starts) != len(ends):
            raise ValueError("DOM-change interval starts and ends differ in length")
        drop = max(0, len(ends) - self._cap)
        if drop:
            floor_ns = max(floor_ns, ends[drop - 1] + 1)
        self._starts = array("q", starts[drop:])
        self._ends = array("q", ends[drop:])
        self.floor_ns = floor_ns


@dataclass(slots=True)
class PendingClick:
    click: Click
    arrival: float  # wall clock: the click is dropped undecided `wait_s` after it


@dataclass(slots=True)
class DeadClickState:
    """What a session snapshot keeps of the detector; the window, waits, ignored
    elements and caps are configuration, taken from the settings of the process that
    restores it."""

    pending: list[PendingClick]
    change_starts: list[int]  # DOM changes as merged intervals (ResponseHistory)
    change_ends: list[int]
    history_floor_ns: int
    replay_first_ns: int | None
    replay_watermark_ns: int
    undecided: int


class DeadClickDetector:
    __slots__ = (
        "_cap",
        "_history_ns",
        "_ignored",
        "_pending",
        "_wait_s",
        "_window_ns",
        "history",
        "replay_first_ns",
        "replay_watermark_ns",
        "undecided",
    )

    def __init__(
        self,
        *,
        window_ms: int,
        wait_s: float,
        history_s: float,
        ignored_elements: frozenset[str],
        cap: int,
    ) -> None:
        self._window_ns = window_ms * NS_PER_MS
        self._wait_s = wait_s
        self._history_ns = int(history_s * NS_PER_S)
        self._ignored = ignored_elements
        self._cap = cap
        self._pending: list[PendingClick] = []
        self.history = ResponseHistory(self._window_ns, cap)
        self.replay_first_ns: int | None = None
        self.replay_watermark_ns = 0
        self.undecided = 0

    def click(self, click: Click, now: float) -> list[Candidate]:
        if click.element.upper() in self._ignored:
            return []
        pending = PendingClick(click, now)
        verdict = self._decide(pending)
        if verdict is not None:
            return verdict
        self._pending.append(pending)
        if len(self._pending) > self._cap:
            self._pending.pop(0)
            self.undecided += 1
        return []

    def replay(self, event: RrwebEvent, span_watermark_ns: int | None = None) -> list[Candidate]:
        """`span_watermark_ns`: how far the session's spans have come. DOM changes are
        kept `history_s` behind the slower of the two streams: when the spans lag (a
        backlog read after a rebalance, the replay topic read first), the clicks still
        to come find the changes after them instead of an undecidable gap."""
        if self.replay_first_ns is None:
            self.replay_first_ns = event.timestamp_ns
        if event.changes_dom:
            self.history.add(event.timestamp_ns)
        self.replay_watermark_ns = max(self.replay_watermark_ns, event.timestamp_ns)
        slower = self.replay_watermark_ns
        if span_watermark_ns is not None:
            slower = min(slower, span_watermark_ns)
        horizon = slower - self._history_ns
        if self._pending:
            horizon = min(horizon, min(p.click.timestamp_ns for p in self._pending))
        if horizon > self.history.floor_ns:
            self.history.forget_before(horizon)
        return self._decide_pending()

    def _decide_pending(self) -> list[Candidate]:
        out: list[Candidate] = []
        still: list[PendingClick] = []
        for pending in self._pending:
            verdict = self._decide(pending)
            if verdict is None:
                still.append(pending)
            else:
                out += verdict
        self._pending = still
        return out

    def _decide(self, pending: PendingClick) -> list[Candidate] | None:
        """None: wait; []: decided (not dead, or undecidable); [candidate]: dead."""
        click = pending.click
        window_end = click.timestamp_ns + self._window_ns
        if self.replay_first_ns is None or self.replay_watermark_ns < window_end:
            return None
        if click.timestamp_ns < self.replay_first_ns or click.timestamp_ns < self.history.floor_ns:
            self.undecided += 1
            return []
        # rrweb stamps events with whole milliseconds of Date.now(), spans carry
        # sub-millisecond times from performance.now(): a mutation the click caused can
        # carry a stamp a little before the click's own. Look back a few milliseconds.
        if self.history.any_between(click.timestamp_ns - CLOCK_TOLERANCE_NS, window_end):
            return []
        return [
            Candidate(
                rule=RULE,
                start_ns=click.timestamp_ns,
                end_ns=window_end,
                key=click.xpath,
                xpath=click.xpath,
                element=click.element,
                attributes={
                    "target_xpath": click.xpath,
                    "target_element": click.element,
                    "location.href": click.page_url,
                    "frustration.window_ms": str(self._window_ns // NS_PER_MS),
                },
            )
        ]

    def expire(self, now: float) -> None:
        """Drop clicks whose replay did not come in time (recording off)."""
        if self._pending and now - self._pending[0].arrival >= self._wait_s:
            kept = [p for p in self._pending if now - p.arrival < self._wait_s]
            self.undecided += len(self._pending) - len(kept)
            self._pending = kept

    def drop_pending(self) -> None:
        self.undecided += len(self._pending)
        self._pending = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def snapshot_state(self) -> DeadClickState:
        starts, ends = self.history.intervals()
        return DeadClickState(
            pending=self._pending,
            change_starts=starts,
            change_ends=ends,
            history_floor_ns=self.history.floor_ns,
            replay_first_ns=self.replay_first_ns,
            replay_watermark_ns=self.replay_watermark_ns,
            undecided=self.undecided,
        )

    def load_state(self, state: DeadClickState) -> None:
        """Into a detector just built from the settings; buffers over its cap keep their
        newest entries (a smaller `EXOS_ENRICH_SESSION_BUFFER` applies at once)."""
        self.history.load(state.change_starts, state.change_ends, state.history_floor_ns)
        over = max(0, len(state.pending) - self._cap)
        self._pending = state.pending[over:]
        self.undecided = state.undecided + over
        self.replay_first_ns = state.replay_first_ns
        self.replay_watermark_ns = state.replay_watermark_ns
