"""Rage click: more than N clicks (default 4) on the same element within a window
(default 2 s).

One burst is one signal. A burst starts at the first click of the first window that
holds more than N clicks on one element (by `target_xpath`), and goes on while each next
click on that element comes within the window of the previous one; a longer pause ends
it. The signal's time is the burst's first click, its duration runs to the last click,
and `frustration.count` is the number of clicks in the burst. It is published once the
burst can no longer grow: a span of the session later than last click + window arrived,
or the session sent nothing for `settle_s`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from exos_enrich.frustration.signals import NS_PER_MS, Candidate, Click

RULE = "rage_click"


@dataclass(slots=True)
class RageElement:
    """Clicks on one element (also its snapshot form: plain fields only)."""

    recent: list[int] = field(default_factory=list)  # sorted click times within the window
    burst_first: Click | None = None
    burst_last_ns: int = 0
    burst_count: int = 0
    last_arrival: float = 0.0


@dataclass(slots=True)
class RageClickState:
    """What a session snapshot keeps of the detector; threshold, window and the element
    cap are configuration, taken from the settings of the process that restores it."""

    elements: dict[str, RageElement]  # in the detector's order (ties in _drop_oldest)


class RageClickDetector:
    __slots__ = ("_elements", "_max_elements", "_threshold", "_window_ns")

    def __init__(self, threshold: int, window_ms: int, max_elements: int) -> None:
        self._threshold = threshold
        self._window_ns = window_ms * NS_PER_MS
        self._max_elements = max_elements
        self._elements: dict[str, RageElement] = {}

    def click(self, click: Click, now: float) -> list[Candidate]:
        out: list[Candidate] = []
        element = self._elements.get(click.xpath)
        if element is None:
            if len(self._elements) >= self._max_elements:
                out += self._drop_oldest()
            element = self._elements[click.xpath] = RageElement()
        if element.burst_first is not None:
            if click.timestamp_ns - element.burst_last_ns <= self._window_ns:
                element.burst_last_ns = max(element.burst_last_ns, click.timestamp_ns)
                element.burst_count += 1
                element.last_arrival = now
                return out
            out.append(self._close(element))
        bisect.insort(element.recent, click.timestamp_ns)
        while element.recent[-1] - element.recent[0] > self._window_ns:
            del element.recent[0]
        element.last_arrival = now
        if len(element.recent) > self._threshold:
            first_ns = element.recent[0]
            element.burst_first = Click(first_ns, click.xpath, click.element, click.page_url)
            element.burst_last_ns = element.recent[-1]
            element.burst_count = len(element.recent)
            element.recent.clear()
        return out

    def _close(self, element: RageElement) -> Candidate:
        first = element.burst_first
        assert first is not None
        candidate = Candidate(
            rule=RULE,
            start_ns=first.timestamp_ns,
            end_ns=element.burst_last_ns,
            key=first.xpath,
            xpath=first.xpath,
            element=first.element,
            attributes={
                "target_xpath": first.xpath,
                "target_element": first.element,
                "location.href": first.page_url,
                "frustration.count": str(element.burst_count),
                "frustration.duration_ms": str(
                    (element.burst_last_ns - first.timestamp_ns) // NS_PER_MS
                ),
            },
        )
        element.burst_first, element.burst_last_ns, element.burst_count = None, 0, 0
        return candidate

    def _drop_oldest(self) -> list[Candidate]:
        xpath = min(self._elements, key=lambda x: self._elements[x].last_arrival)
        element = self._elements.pop(xpath)
        return [self._close(element)] if element.burst_first is not None else []

    def advance(self, span_watermark_ns: int, now: float, settle_s: float) -> list[Candidate]:
        """Close bursts that can no longer grow; forget elements with nothing recent."""
        out: list[Candidate] = []
        for xpath in list(self._elements):
            element = self._elements[xpath]
            if element.burst_first is not None:
                last_ns = element.burst_last_ns
            else:
                last_ns = element.recent[-1] if element.recent else 0
            over = span_watermark_ns - last_ns > self._window_ns
            settled = now - element.last_arrival >= settle_s
            if element.burst_first is not None and (over or settled):
                out.append(self._close(element))
            if element.burst_first is None and (over or settled):
                del self._elements[xpath]
        return out

    def close_all(self) -> list[Candidate]:
        out = [self._close(e) for e in self._elements.values() if e.burst_first is not None]
        self._elements.clear()
        return out

    @property
    def has_open_burst(self) -> bool:
        return any(e.burst_first is not None for e in self._elements.values())

    @property
    def tracked(self) -> int:
        return len(self._elements)

    def snapshot_state(self) -> RageClickState:
        return RageClickState(self._elements)

    def load_state(self, state: RageClickState) -> None:
        self._elements = dict(state.elements)
