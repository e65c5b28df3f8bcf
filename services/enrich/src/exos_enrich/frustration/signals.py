"""What the frustration rules share: the click they read, the signal they detect, the
client-sent signals that suppress it, and the span a signal becomes.

A detected signal first waits in the session's `Outbox`: until the session's spans are
`grace` past its end (span time), or `settle_s` of wall time went by. A client that
detects the same thing itself (a page script that calls
`HyperDX.addAction('rage_click', ...)`) sends a `custom-action` span close to that time;
waiting lets that span arrive first, and then the server's signal is dropped instead of
doubling it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from exos_common.messages import SpanRecord

SIGNAL_SCOPE = "exos-enrich"
CLIENT_SIGNAL_SCOPE = "custom-action"
SIGNAL_SOURCE_ATTRIBUTE = "frustration.source"
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Click:
    """One physical click (the SDK's doubled `click` spans already merged)."""

    timestamp_ns: int
    xpath: str
    element: str
    page_url: str


@dataclass(slots=True)
class Candidate:
    """A detected signal, not yet published."""

    rule: str
    start_ns: int  # the first triggering event: the span's timestamp
    end_ns: int  # the last triggering event (or the end of the rule's window)
    key: str  # what tells two signals of one rule apart at the same start (xpath, url)
    attributes: dict[str, str]
    xpath: str = ""
    element: str = ""
    created_at: float = 0.0  # wall clock (the enricher's clock), for settling


@dataclass(frozen=True, slots=True)
class ClientSignal:
    rule: str
    timestamp_ns: int
    xpath: str
    element: str


def client_signal_of(span: SpanRecord, rules: frozenset[str]) -> ClientSignal | None:
    """A frustration signal the browser sent itself (HyperDX.addAction), if this is one."""
    if span.name not in rules or span.scope_name != CLIENT_SIGNAL_SCOPE:
        return None
    attrs = span.attributes
    return ClientSignal(
        rule=span.name,
        timestamp_ns=span.timestamp_ns,
        xpath=attrs.get("target_xpath") or attrs.get("xpath", ""),
        element=attrs.get("target_element") or attrs.get("element", ""),
    )


def _same_element(client: ClientSignal, candidate: Candidate) -> bool:
    if client.xpath and candidate.xpath:
        return client.xpath == candidate.xpath
    if client.element and candidate.element:
        # Page scripts name elements CSS-style (`button#submit`); the SDK's
        # target_element is the tag name (`BUTTON`). Compare the tag part.
        selector, tag = client.element.lower(), candidate.element.lower()
        return selector == tag or (selector.startswith(tag) and selector[len(tag)] in "#.[: >")
    return True  # nothing to compare: the time window decides


def suppressed_by(
    candidate: Candidate, client_signals: Sequence[ClientSignal], tolerance_ns: int
) -> bool:
    return any(
        client.rule == candidate.rule
        and candidate.start_ns - tolerance_ns
        <= client.timestamp_ns
        <= candidate.end_ns + tolerance_ns
        and _same_element(client, candidate)
        for client in client_signals
    )


@dataclass(slots=True)
class Outbox:
    """Detected signals waiting for a possible client-sent duplicate."""

    waiting: list[Candidate] = field(default_factory=list)

    def add(self, candidates: list[Candidate], now: float) -> None:
        for candidate in candidates:
            candidate.created_at = now
            self.waiting.append(candidate)

    def due(
        self, span_watermark_ns: int, grace_ns: int, now: float, settle_s: float
    ) -> list[Candidate]:
        if not self.waiting:
            return []
        ready = [
            c
            for c in self.waiting
            if span_watermark_ns >= c.end_ns + grace_ns or now - c.created_at >= settle_s
        ]
        if ready:
            released = {id(c) for c in ready}
            self.waiting = [c for c in self.waiting if id(c) not in released]
        return ready

    def take_all(self) -> list[Candidate]:
        waiting, self.waiting = self.waiting, []
        return waiting


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def signal_ids(session_id: str, candidate: Candidate) -> tuple[str, str]:
    """(trace id, span id), deterministic: the same signal detected again (a replay after
    a restart) gets the same ids, so it is recognisable as a repeat. All signals of a
    session share one trace."""
    trace_id = _digest("exos-frustration", session_id)[:32]
    span_id = _digest(session_id, candidate.rule, candidate.key, candidate.start_ns)[:16]
    return trace_id, span_id


def signal_span(
    candidate: Candidate,
    *,
    session_id: str,
    service_name: str,
    resource_attributes: dict[str, str],
    scope_version: str,
) -> SpanRecord:
    trace_id, span_id = signal_ids(session_id, candidate)
    attributes = dict(candidate.attributes)
    attributes[SIGNAL_SOURCE_ATTRIBUTE] = "server"
    return SpanRecord(
        session_id=session_id,
        timestamp_ns=candidate.start_ns,
        trace_id=trace_id,
        span_id=span_id,
        name=candidate.rule,
        service_name=service_name,
        duration_ns=max(0, candidate.end_ns - candidate.start_ns),
        resource_attributes=dict(resource_attributes),
        scope_name=SIGNAL_SCOPE,
        scope_version=scope_version,
        attributes=attributes,
    )
