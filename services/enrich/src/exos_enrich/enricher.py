"""The enrich step: one record in, the records to publish out.

`SessionEnricher.process` takes records of the three raw topics (spans, logs, rrweb
replay chunks) in topic order per session, in any interleaving between topics, and
returns what to publish: the span or log enriched in place (visitor and identity
attributes), followed by the frustration-signal spans that became certain with it.
Replay chunks only feed the rules (the writer stores `replay.raw` itself), so they
return signals only. `flush_expired` settles what only wall time can settle and drops
idle sessions; `forget` / `forget_if` drop sessions without publishing (rebalance).
`snapshot` / `restore` / `take_touched` let the engine checkpoint the sessions a batch
changed and load them on another replica (`exos_enrich.snapshot`).

Time: rules run on event time (span timestamps, rrweb timestamps); the injected clock
(wall time) only settles open signals, times out clicks waiting for replay and expires
idle sessions. The state is in memory; unless the engine restores the sessions'
snapshots, a restart or a rebalance replays from the committed offsets with fresh state,
so a signal whose triggering events straddle the committed offset may be missed; one
detected again gets the same span id (see `signal_ids`).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata

from exos_common.logs import get_logger
from exos_common.messages import SESSION_ID_ATTRIBUTE, LogRecord, ReplayChunk, SpanRecord
from exos_enrich.frustration.quick_back import navigation_of
from exos_enrich.frustration.signals import (
    NS_PER_MS,
    NS_PER_S,
    Candidate,
    Click,
    client_signal_of,
    signal_span,
    suppressed_by,
)
from exos_enrich.geo import GeoLookup
from exos_enrich.session_state import SessionState, SessionTable, new_session_state
from exos_enrich.settings import RULES, EnrichSettings
from exos_enrich.snapshot import restore_session, snapshot_session
from exos_enrich.useragent import UserAgentParser
from exos_enrich.visitor import (
    VISITOR_ID_ATTRIBUTE,
    VisitorResolver,
    VisitStore,
    apply_kept,
)

EnrichedRecord = SpanRecord | LogRecord

try:
    _VERSION = metadata.version("exos-enrich")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    _VERSION = ""

log = get_logger("exos.enrich")

_ALL_RULES = frozenset(RULES)
_CLIENT_MATCH_NS = 2 * NS_PER_S  # a client-sent signal this close to ours is the same one


@dataclass(slots=True)
class EnrichStats:
    """Counters for the engine's metrics."""

    signals_emitted: Counter[str] = field(default_factory=Counter)
    signals_suppressed_by_client: Counter[str] = field(default_factory=Counter)
    dead_clicks_undecided: int = 0
    rrweb_events: int = 0
    rrweb_events_dropped: int = 0
    sessions_expired: int = 0
    sessions_evicted: int = 0
    sessions_forgotten: int = 0


class SessionEnricher:
    def __init__(
        self,
        settings: EnrichSettings,
        geo: GeoLookup,
        ua: UserAgentParser,
        clock: Callable[[], float] = time.time,
        visits: VisitStore | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._rules = settings.enabled_rules
        self._visitor = VisitorResolver(
            geo,
            ua,
            visits if visits is not None else VisitStore(settings.enrich_visitor_store_size),
        )
        self._sessions = SessionTable(settings.enrich_max_sessions, self._new_state)
        self._open: dict[str, None] = {}  # sessions with something wall time may settle
        self._touched: set[str] = set()  # changed since the last take_touched()
        self._released: list[SpanRecord] = []  # of sessions a restore evicted
        self._grace_ns = settings.frustration_client_grace_ms * NS_PER_MS
        self._settle_s = settings.enrich_signal_settle_s
        self._tolerance_ns = {
            "rage_click": max(_CLIENT_MATCH_NS, settings.frustration_rage_window_ms * NS_PER_MS),
            "dead_click": _CLIENT_MATCH_NS,
            "excessive_scroll": int(settings.frustration_scroll_window_s * NS_PER_S),
            "quick_back": _CLIENT_MATCH_NS,
        }
        self._ignored_elements = settings.dead_click_ignored_elements
        self.stats = EnrichStats()

    # -- the engine's entry points -----------------------------------------------------

    def process(self, record: SpanRecord | LogRecord | ReplayChunk) -> list[EnrichedRecord]:
        now = self._clock()
        if not record.session_id:
            # Server-side SDKs send no session: nothing to join, nothing to remember.
            return [] if isinstance(record, ReplayChunk) else [record]
        if isinstance(record, ReplayChunk):
            return self._replay(record, now)
        if isinstance(record, SpanRecord):
            return self._span(record, now)
        if isinstance(record, LogRecord):
            return self._log(record, now)
        raise TypeError(f"cannot enrich {type(record).__name__}")

    def process_batch(
        self, records: Sequence[SpanRecord | LogRecord | ReplayChunk]
    ) -> list[EnrichedRecord]:
        """The records of one bus message (one session's batch), in order."""
        out: list[EnrichedRecord] = []
        for record in records:
            out += self.process(record)
        return out

    def flush_expired(self) -> list[SpanRecord]:
        """Signals settled by wall time (rage bursts that stopped, signals whose
        client-sent duplicate did not come, sessions going idle), and idle sessions
        dropped. Call it every second or so, and not while consumption is paused
        (a pause is not the session going quiet)."""
        now = self._clock()
        out, self._released = self._released, []
        for session_id in list(self._open):
            state = self._sessions.get(session_id)
            if state is None:
                del self._open[session_id]
                continue
            work_before = self._open_work(state)
            self._expire_clicks(state, now)
            settled = state.rage.advance(state.span_watermark_ns, now, self._settle_s)
            out += self._publish(state, settled)
            out += self._due(state, now)
            self._track_open(state)
            if self._open_work(state) != work_before:
                self._touched.add(session_id)
        for state in self._sessions.idle(now, self._settings.enrich_session_idle_s):
            out += self._finish(state)
            self._drop(state.session_id)
            self._touched.add(state.session_id)
            self.stats.sessions_expired += 1
        return out

    def forget(self, session_ids: Iterable[str]) -> int:
        """Drop these sessions' state without publishing anything (their partition was
        revoked: the new owner restores or replays them). Returns how many were tracked.

        A forgotten session is not reported by `take_touched` (and leaves it if it was
        there): this replica no longer owns it, so it must write nothing for it, least of
        all a tombstone that would delete the state its new owner relies on."""
        dropped = 0
        for session_id in session_ids:
            self._touched.discard(session_id)
            if self._drop(session_id):
                dropped += 1
        self.stats.sessions_forgotten += dropped
        return dropped

    def forget_if(self, predicate: Callable[[str], bool]) -> int:
        """`forget` every session whose id matches, e.g. whose key hashes to a revoked
        partition."""
        return self.forget([sid for sid in self._sessions.ids() if predicate(sid)])

    def snapshot(self, session_id: str) -> bytes | None:
        """The session's state as snapshot bytes, None when it is not held (it ended, or
        was never seen) or cannot be encoded (logged; not expected, event times are
        bounded to int64 on the way in)."""
        state = self._sessions.get(session_id)
        if state is None:
            return None
        try:
            return snapshot_session(state)
        except TypeError as error:  # orjson.JSONEncodeError: an int beyond 64 bits
            log.error("enrich_snapshot_failed", session_id=session_id, error=str(error))
            return None

    def restore(self, data: bytes) -> bool:
        """Hold the session of a snapshot (replacing one of the same id: the snapshot is
        what the committed offsets correspond to). False when the snapshot is of another
        version or malformed (logged, dropped).

        The session keeps its `last_seen` (clamped to now) and takes its place in the LRU
        by it. Sessions this evicts over `EXOS_ENRICH_MAX_SESSIONS` publish what is
        certain with the next `flush_expired()` and are reported by `take_touched`; the
        restored session itself is not (the topic already holds these bytes)."""
        state = restore_session(data, self._settings, ignored_elements=self._ignored_elements)
        if state is None:
            return False
        state.last_seen = min(state.last_seen, self._clock())
        self._drop(state.session_id)
        self._touched.discard(state.session_id)
        evicted = self._sessions.put(state)
        self._track_open(state)
        self._released += self._evicted(evicted)
        return True

    def take_touched(self) -> set[str]:
        """Ids of the sessions changed since the last call, then forgets them: created or
        updated by a record, settled by `flush_expired`, or ended (expired, evicted); for
        an ended one `snapshot` is None (a tombstone). Forgotten sessions are left out
        (see `forget`)."""
        touched, self._touched = self._touched, set()
        return touched

    def session_ids(self) -> list[str]:
        return self._sessions.ids()

    def session(self, session_id: str) -> SessionState | None:
        return self._sessions.get(session_id)

    def __len__(self) -> int:
        return len(self._sessions)

    # -- per record type ---------------------------------------------------------------

    def _span(self, span: SpanRecord, now: float) -> list[EnrichedRecord]:
        state, evicted = self._sessions.touch(span.session_id, now)
        self._touched.add(span.session_id)
        self._remember_source(state, span.service_name, span.resource_attributes)
        state.span_watermark_ns = max(state.span_watermark_ns, span.timestamp_ns)
        client_signal = client_signal_of(span, _ALL_RULES)
        if client_signal is not None:
            state.remember_client_signal(client_signal)
        state.identity.observe(span.attributes, span.timestamp_ns)
        state.identity.apply(span.attributes, span.timestamp_ns)
        self._apply_visitor(state, span)
        out: list[EnrichedRecord] = [span]
        if client_signal is None:
            state.outbox.add(self._span_rules(state, span, now), now)
        out += self._due(state, now)
        self._track_open(state)
        out += self._evicted(evicted)
        return out

    def _log(self, log: LogRecord, now: float) -> list[EnrichedRecord]:
        state = self._sessions.get(log.session_id)
        if state is not None:
            self._sessions.touch(log.session_id, now)
            self._touched.add(log.session_id)  # last_seen moved
            state.identity.apply(log.attributes, log.timestamp_ns)
        return [log]

    def _replay(self, chunk: ReplayChunk, now: float) -> list[EnrichedRecord]:
        state, evicted = self._sessions.touch(chunk.session_id, now)
        self._touched.add(chunk.session_id)
        self._remember_source(state, chunk.service_name, chunk.resource_attributes)
        dropped_before = state.rrweb.dropped_events
        event = state.rrweb.add(chunk)
        self.stats.rrweb_events_dropped += state.rrweb.dropped_events - dropped_before
        out: list[EnrichedRecord] = []
        if event is not None:
            self.stats.rrweb_events += 1
            candidates: list[Candidate] = []
            if "dead_click" in self._rules:
                undecided_before = state.dead.undecided
                candidates += state.dead.replay(event, state.span_watermark_ns)
                self.stats.dead_clicks_undecided += state.dead.undecided - undecided_before
            if "excessive_scroll" in self._rules:
                candidates += state.scroll.replay(event)
            state.outbox.add(candidates, now)
        self._expire_clicks(state, now)
        out += self._due(state, now)
        self._track_open(state)
        out += self._evicted(evicted)
        return out

    # -- rules ---------------------------------------------------------------------------

    def _span_rules(self, state: SessionState, span: SpanRecord, now: float) -> list[Candidate]:
        candidates: list[Candidate] = []
        click = self._click_of(state, span)
        if click is not None:
            if "rage_click" in self._rules:
                candidates += state.rage.click(click, now)
            if "dead_click" in self._rules:
                undecided_before = state.dead.undecided
                candidates += state.dead.click(click, now)
                self.stats.dead_clicks_undecided += state.dead.undecided - undecided_before
        navigation = navigation_of(span)
        if navigation is not None and "quick_back" in self._rules:
            url, previous = navigation
            candidates += state.quick_back.navigation(url, previous, span.timestamp_ns)
        candidates += state.rage.advance(state.span_watermark_ns, now, self._settle_s)
        self._expire_clicks(state, now)
        return candidates

    @staticmethod
    def _click_of(state: SessionState, span: SpanRecord) -> Click | None:
        """A physical click, or None. The SDK sends each click as two identical `click`
        spans (same start, same xpath): the second one is not a new click."""
        if span.name != "click":
            return None
        attrs = span.attributes
        xpath = attrs.get("target_xpath", "")
        element = attrs.get("target_element", "")
        target = xpath or element
        if not target:
            return None
        if not state.remember_click((target, span.timestamp_ns)):
            return None
        page_url = attrs.get("location.href") or attrs.get("http.url", "")
        return Click(span.timestamp_ns, target, element, page_url)

    def _expire_clicks(self, state: SessionState, now: float) -> None:
        before = state.dead.undecided
        state.dead.expire(now)
        self.stats.dead_clicks_undecided += state.dead.undecided - before

    # -- publishing ------------------------------------------------------------------------

    def _due(self, state: SessionState, now: float) -> list[SpanRecord]:
        due = state.outbox.due(state.span_watermark_ns, self._grace_ns, now, self._settle_s)
        return self._publish(state, due)

    def _publish(self, state: SessionState, candidates: list[Candidate]) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for candidate in candidates:
            if suppressed_by(candidate, state.client_signals, self._tolerance_ns[candidate.rule]):
                self.stats.signals_suppressed_by_client[candidate.rule] += 1
                continue
            resource = dict(state.resource_attributes)
            resource[SESSION_ID_ATTRIBUTE] = state.session_id
            span = signal_span(
                candidate,
                session_id=state.session_id,
                service_name=state.service_name,
                resource_attributes=resource,
                scope_version=_VERSION,
            )
            state.identity.apply(span.attributes, span.timestamp_ns)
            apply_kept(span.attributes, state.visitor_attributes)
            self.stats.signals_emitted[candidate.rule] += 1
            out.append(span)
        return out

    def _finish(self, state: SessionState) -> list[SpanRecord]:
        """Everything a session still holds that is certain, before it is dropped."""
        self.stats.dead_clicks_undecided += state.dead.pending
        state.dead.drop_pending()
        return self._publish(state, state.rage.close_all() + state.outbox.take_all())

    def _evicted(self, evicted: list[SessionState]) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for state in evicted:
            out += self._finish(state)
            self._open.pop(state.session_id, None)
            self._touched.add(state.session_id)
            self.stats.sessions_evicted += 1
        return out

    def _drop(self, session_id: str) -> bool:
        self._open.pop(session_id, None)
        return self._sessions.pop(session_id) is not None

    def _track_open(self, state: SessionState) -> None:
        if state.has_open_work:
            self._open[state.session_id] = None
        else:
            self._open.pop(state.session_id, None)

    @staticmethod
    def _open_work(state: SessionState) -> tuple[int, int, int]:
        """What `flush_expired` can change in a session: it only ever removes clicks
        waiting for replay, rage elements (closing their bursts) and outbox entries."""
        return state.dead.pending, state.rage.tracked, len(state.outbox.waiting)

    # -- visitor ---------------------------------------------------------------------------

    @staticmethod
    def _remember_source(state: SessionState, service: str, resource: dict[str, str]) -> None:
        if service and not state.service_name:
            state.service_name = service
        if resource and not state.resource_attributes:
            state.resource_attributes = dict(resource)

    def _apply_visitor(self, state: SessionState, span: SpanRecord) -> None:
        client = span.client
        user_agent = client.user_agent or span.attributes.get("http.user_agent", "")
        source = (
            client.ip,
            user_agent,
            client.accept_language,
            span.resource_attributes.get("browser.language", ""),
        )
        source_digest = hashlib.blake2b("\x1f".join(source).encode(), digest_size=16).hexdigest()
        referer = (
            span.attributes.get("document.referrer", "") if span.name == "documentLoad" else ""
        )
        if referer and not state.referer:
            state.referer = referer
            state.visitor_attributes["visitor.referer"] = referer
        if source_digest != state.visitor_source and (client.ip or user_agent):
            self._resolve_visitor(state, span, source)
            state.visitor_source = source_digest
        apply_kept(span.attributes, state.visitor_attributes)

    def _resolve_visitor(
        self, state: SessionState, span: SpanRecord, source: tuple[str, str, str, str]
    ) -> None:
        ip, user_agent, accept_language, browser_language = source
        first = not state.visitor_id
        explicit_id = span.attributes.get(VISITOR_ID_ATTRIBUTE) or span.resource_attributes.get(
            VISITOR_ID_ATTRIBUTE, ""
        )
        profile = self._visitor.profile(
            ip=ip,
            user_agent=user_agent,
            accept_language=accept_language,
            fallback_language=browser_language,
            referer=state.referer,
            visitor_id=state.visitor_id or explicit_id,
            count_visit_at_ns=span.timestamp_ns if first else None,
        )
        attributes = profile.attributes()
        if first:
            state.visitor_id, state.visit_count = profile.visitor_id, profile.visit_count
        elif state.visit_count:
            # Same session, new network or headers: geo/device change, the visit does not.
            attributes[VISITOR_ID_ATTRIBUTE] = state.visitor_id
            attributes["visitor.returning"] = "true" if state.visit_count > 1 else "false"
            attributes["visitor.visit_count"] = str(state.visit_count)
        state.visitor_attributes = attributes

    def _new_state(self, session_id: str) -> SessionState:
        return new_session_state(session_id, self._settings, self._ignored_elements)
