"""Per-session state of the enricher and the bounded table that holds it.

Everything enrich remembers about a session lives in one `SessionState`, keyed by
`rum.sessionId` (the topics' key), so the engine can drop exactly the sessions of a
revoked partition, and snapshot or restore one session (`exos_enrich.snapshot`). The
table is an LRU ordered by last activity (wall clock): idle sessions are found at its
front without scanning, and over `max_sessions` the least recently active one is
evicted.

Rough size of one session on CPython 3.11 (measured with tracemalloc in
`tests/test_session_state.py`): ~6 KB for a browsing session with visitor, identity
and replay state; buffers are capped (`EXOS_ENRICH_SESSION_BUFFER`), so a pathological
session stays under a few hundred KB. 50,000 sessions ~ 300 MB.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from exos_enrich.frustration.dead_click import DeadClickDetector
from exos_enrich.frustration.excessive_scroll import ScrollDetector
from exos_enrich.frustration.quick_back import QuickBackDetector
from exos_enrich.frustration.rage_click import RageClickDetector
from exos_enrich.frustration.rrweb import RrwebReassembler
from exos_enrich.frustration.signals import ClientSignal, Outbox
from exos_enrich.identity import SessionIdentity
from exos_enrich.settings import EnrichSettings

RECENT_CLICKS_KEPT = 8  # (xpath, time) keys kept to merge the SDK's doubled click spans
# Two click spans of one target this close are one physical click (see remember_click).
SAME_CLICK_NS = 10_000_000
CLIENT_SIGNALS_KEPT = 32  # client-sent signals kept to suppress the server's duplicates


@dataclass(slots=True)
class SessionState:
    session_id: str
    rage: RageClickDetector
    dead: DeadClickDetector
    scroll: ScrollDetector
    quick_back: QuickBackDetector
    last_seen: float = 0.0  # wall clock of the last record
    service_name: str = ""
    resource_attributes: dict[str, str] = field(default_factory=dict)
    span_watermark_ns: int = 0  # latest span start time seen
    identity: SessionIdentity = field(default_factory=SessionIdentity)
    # Digest of (IP, User-Agent, languages) the visitor attributes came from: compared
    # only, so snapshots carry no raw IP.
    visitor_source: str | None = None
    visitor_attributes: dict[str, str] = field(default_factory=dict)
    visitor_id: str = ""
    visit_count: int = 0
    referer: str = ""
    recent_clicks: list[tuple[str, int]] = field(default_factory=list)
    rrweb: RrwebReassembler = field(default_factory=RrwebReassembler)
    client_signals: list[ClientSignal] = field(default_factory=list)
    outbox: Outbox = field(default_factory=Outbox)

    def remember_click(self, key: tuple[str, int]) -> bool:
        """False when this click was already seen: the SDK's second span of one click has
        the same target and a start up to a millisecond apart (seen in Chromium), while
        even a robot's clicks are tens of milliseconds apart."""
        target, timestamp_ns = key
        if any(
            seen == target and abs(seen_ns - timestamp_ns) <= SAME_CLICK_NS
            for seen, seen_ns in self.recent_clicks
        ):
            return False
        self.recent_clicks.append(key)
        if len(self.recent_clicks) > RECENT_CLICKS_KEPT:
            del self.recent_clicks[0]
        return True

    def remember_client_signal(self, signal: ClientSignal) -> None:
        self.client_signals.append(signal)
        if len(self.client_signals) > CLIENT_SIGNALS_KEPT:
            del self.client_signals[0]

    @property
    def has_open_work(self) -> bool:
        """Something that wall time alone can settle: a rage burst, a signal waiting in
        the outbox, a click waiting for replay."""
        return bool(self.outbox.waiting) or self.rage.has_open_burst or self.dead.pending > 0


def new_session_state(
    session_id: str, settings: EnrichSettings, ignored_elements: frozenset[str] | None = None
) -> SessionState:
    """A new session's state: detectors configured from the settings (a restored session
    gets its configuration here too, never from its snapshot)."""
    s = settings
    cap = s.enrich_session_buffer
    return SessionState(
        session_id=session_id,
        rage=RageClickDetector(
            s.frustration_rage_clicks, s.frustration_rage_window_ms, max_elements=32
        ),
        dead=DeadClickDetector(
            window_ms=s.frustration_dead_click_ms,
            wait_s=s.enrich_dead_click_wait_s,
            history_s=s.enrich_replay_history_s,
            ignored_elements=(
                s.dead_click_ignored_elements if ignored_elements is None else ignored_elements
            ),
            cap=cap,
        ),
        scroll=ScrollDetector(
            direction_changes=s.frustration_scroll_direction_changes,
            distance_pct=s.frustration_scroll_distance_pct,
            window_s=s.frustration_scroll_window_s,
            cap=cap,
        ),
        quick_back=QuickBackDetector(s.frustration_quick_back_s),
    )


class SessionTable:
    """Sessions by id, least recently active first, at most `max_sessions`."""

    def __init__(self, max_sessions: int, factory: Callable[[str], SessionState]) -> None:
        self._sessions: OrderedDict[str, SessionState] = OrderedDict()
        self._max = max_sessions
        self._factory = factory
        self._in_order = True  # False after `put` of an older session, until re-sorted

    def touch(self, session_id: str, now: float) -> tuple[SessionState, list[SessionState]]:
        """The session's state (created if new), marked active now, and the sessions
        evicted to make room for it."""
        state = self._sessions.get(session_id)
        evicted: list[SessionState] = []
        if state is None:
            state = self._sessions[session_id] = self._factory(session_id)
            evicted = self._evict_over_cap()
        else:
            self._sessions.move_to_end(session_id)
        state.last_seen = now
        return state, evicted

    def put(self, state: SessionState) -> list[SessionState]:
        """Hold this state (a restored session, replacing one of the same id) at its own
        `last_seen`, and return the sessions evicted to make room (possibly itself, when
        it is the least recently active)."""
        self._sessions.pop(state.session_id, None)
        if self._sessions:
            newest = next(reversed(self._sessions.values()))
            self._in_order = self._in_order and newest.last_seen <= state.last_seen
        self._sessions[state.session_id] = state
        return self._evict_over_cap()

    def _evict_over_cap(self) -> list[SessionState]:
        evicted: list[SessionState] = []
        if len(self._sessions) > self._max:
            self._sort()
            while len(self._sessions) > self._max:
                evicted.append(self._sessions.popitem(last=False)[1])
        return evicted

    def _sort(self) -> None:
        """Back to last-activity order after restores (once, not per restored session);
        touched sessions are at the end already and keep their order (stable sort)."""
        if not self._in_order:
            by_activity = sorted(self._sessions.items(), key=lambda item: item[1].last_seen)
            self._sessions = OrderedDict(by_activity)
            self._in_order = True

    def get(self, session_id: str) -> SessionState | None:
        return self._sessions.get(session_id)

    def pop(self, session_id: str) -> SessionState | None:
        return self._sessions.pop(session_id, None)

    def idle(self, now: float, idle_s: float) -> Iterator[SessionState]:
        """Sessions inactive for at least `idle_s`, oldest first (a snapshot: the caller
        may pop them while iterating)."""
        self._sort()
        found: list[SessionState] = []
        for state in self._sessions.values():
            if now - state.last_seen < idle_s:
                break
            found.append(state)
        return iter(found)

    def ids(self) -> list[str]:
        return list(self._sessions)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions
