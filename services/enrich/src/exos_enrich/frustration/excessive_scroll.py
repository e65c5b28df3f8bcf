"""Excessive scroll: more than N direction changes (default 3) AND a scrolled distance
above P % (default 130 %) of the document height, within a window (default 30 s) on
one page.

Read from rrweb: scroll events (incremental snapshot, source 3) of the document node
give the page's scroll position; meta events (type 4) give the page URL and viewport
height, viewport-resize events (source 4) update it, full snapshots give the starting
position and the document node's id. rrweb records no document height, so it is
estimated as the smallest height consistent with what was seen: deepest scroll
position + viewport height (a page the user never scrolled to the bottom of may be
taller, which makes the ratio an upper bound). Scrolling inside elements is not counted.
After a signal the episode starts over, so one frantic minute is a few signals, not one
per scroll event.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from itertools import pairwise

from exos_enrich.frustration.rrweb import (
    FULL_SNAPSHOT,
    INCREMENTAL,
    META,
    SOURCE_SCROLL,
    SOURCE_VIEWPORT_RESIZE,
    RrwebEvent,
)
from exos_enrich.frustration.signals import NS_PER_MS, NS_PER_S, Candidate

RULE = "excessive_scroll"
_DEFAULT_DOCUMENT_ID = 1  # rrweb numbers nodes from 1, the document first


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


@dataclass(slots=True)
class ScrollState:
    """What a session snapshot keeps of the detector; the thresholds, window and cap are
    configuration, taken from the settings of the process that restores it."""

    document_id: int
    page_url: str
    viewport_height: float
    last_y: float | None
    max_y: float
    move_times: list[int]  # the scroll moves in the window, oldest first
    move_distances: list[float]
    move_directions: list[int]
    changes: int  # running sums over the moves, kept exact (float) rather than re-added
    distance: float


class ScrollDetector:
    __slots__ = (
        "_cap",
        "_changes",
        "_changes_limit",
        "_distance",
        "_distance_ratio",
        "_document_id",
        "_last_y",
        "_max_y",
        "_move_directions",
        "_move_distances",
        "_move_times",
        "_page_url",
        "_viewport_height",
        "_window_ns",
    )

    def __init__(
        self, *, direction_changes: int, distance_pct: float, window_s: float, cap: int
    ) -> None:
        self._changes_limit = direction_changes
        self._distance_ratio = distance_pct / 100.0
        self._window_ns = int(window_s * NS_PER_S)
        self._cap = cap
        self._document_id = _DEFAULT_DOCUMENT_ID
        self._page_url = ""
        self._viewport_height = 0.0
        self._last_y: float | None = None
        self._max_y = 0.0
        # Each scroll move in the window (time, |dy|, direction), and running sums.
        self._move_times = array("q")
        self._move_distances = array("d")
        self._move_directions = array("b")
        self._changes = 0
        self._distance = 0.0

    def replay(self, event: RrwebEvent) -> list[Candidate]:
        if event.type == META:
            self._on_meta(event)
        elif event.type == FULL_SNAPSHOT:
            if event.document_id is not None:
                self._document_id = event.document_id
            if event.initial_top is not None:
                self._last_y = event.initial_top
                self._max_y = max(self._max_y, event.initial_top)
        elif event.type == INCREMENTAL and event.data is not None:
            if event.source == SOURCE_VIEWPORT_RESIZE:
                height = _number(event.data.get("height"))
                if height is not None:
                    self._viewport_height = height
            elif event.source == SOURCE_SCROLL and event.data.get("id") == self._document_id:
                y = _number(event.data.get("y"))
                if y is not None:
                    return self._on_scroll(event.timestamp_ns, y)
        return []

    def _on_meta(self, event: RrwebEvent) -> None:
        data = event.data or {}
        href = data.get("href")
        if isinstance(href, str) and href != self._page_url:
            self._page_url = href
            self._last_y, self._max_y = None, 0.0
            self._restart()
        height = _number(data.get("height"))
        if height is not None:
            self._viewport_height = height

    def _restart(self) -> None:
        del self._move_times[:], self._move_distances[:], self._move_directions[:]
        self._changes, self._distance = 0, 0.0

    def _on_scroll(self, timestamp_ns: int, y: float) -> list[Candidate]:
        previous, self._last_y = self._last_y, y
        self._max_y = max(self._max_y, y)
        if previous is None or y == previous:
            return []
        direction = 1 if y > previous else -1
        times, distances, directions = (
            self._move_times,
            self._move_distances,
            self._move_directions,
        )
        if directions and directions[-1] != direction:
            self._changes += 1
        times.append(timestamp_ns)
        distances.append(abs(y - previous))
        directions.append(direction)
        self._distance += abs(y - previous)
        drop = 0
        while drop < len(times) and (
            timestamp_ns - times[drop] > self._window_ns or len(times) - drop > self._cap
        ):
            self._distance -= distances[drop]
            if drop + 1 < len(times) and directions[drop + 1] != directions[drop]:
                self._changes -= 1
            drop += 1
        if drop:
            del times[:drop], distances[:drop], directions[:drop]
        document_height = self._max_y + self._viewport_height
        if (
            self._changes > self._changes_limit
            and document_height > 0
            and self._distance > self._distance_ratio * document_height
        ):
            candidate = self._candidate(times[0], timestamp_ns, document_height)
            self._restart()
            return [candidate]
        return []

    def _candidate(self, start_ns: int, end_ns: int, document_height: float) -> Candidate:
        return Candidate(
            rule=RULE,
            start_ns=start_ns,
            end_ns=end_ns,
            key=self._page_url,
            attributes={
                "location.href": self._page_url,
                "frustration.direction_changes": str(self._changes),
                "frustration.scroll_distance_px": str(round(self._distance)),
                "frustration.document_height_px": str(round(document_height)),
                "frustration.scroll_ratio_pct": str(round(100 * self._distance / document_height)),
                "frustration.duration_ms": str((end_ns - start_ns) // NS_PER_MS),
            },
        )

    def snapshot_state(self) -> ScrollState:
        return ScrollState(
            document_id=self._document_id,
            page_url=self._page_url,
            viewport_height=self._viewport_height,
            last_y=self._last_y,
            max_y=self._max_y,
            move_times=self._move_times.tolist(),
            move_distances=self._move_distances.tolist(),
            move_directions=self._move_directions.tolist(),
            changes=self._changes,
            distance=self._distance,
        )

    def load_state(self, state: ScrollState) -> None:
        """Into a detector just built from the settings. Raises ValueError when the move
        lists differ in length, OverflowError when a value does not fit its array."""
        times, distances, directions = (
            state.move_times,
            state.move_distances,
            state.move_directions,
        )
        if not len(times) == len(distances) == len(directions):
            raise ValueError("scroll move lists differ in length")
        changes, distance = state.changes, state.distance
        if len(times) > self._cap:  # a smaller buffer setting: keep the newest moves
            times, distances, directions = (
                times[-self._cap :],
                distances[-self._cap :],
                directions[-self._cap :],
            )
            changes = sum(1 for a, b in pairwise(directions) if a != b)
            distance = sum(distances)
        self._document_id = state.document_id
        self._page_url = state.page_url
        self._viewport_height = state.viewport_height
        self._last_y = state.last_y
        self._max_y = state.max_y
        self._move_times = array("q", times)
        self._move_distances = array("d", distances)
        self._move_directions = array("b", directions)
        self._changes, self._distance = changes, distance
