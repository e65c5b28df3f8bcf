"""Versioned snapshots of one session's enrich state, for a compacted Kafka topic.

The engine writes `snapshot_session` of every session a batch changed in the batch's
Kafka transaction and, on partition assignment, `restore_session`s them, so state
survives a rebalance or a restart. The bytes are an orjson object, version first:

    {"v":1,"session_id":"4f1c…","last_seen":1000012.5,"service_name":"portal",
     "resource_attributes":{…},"span_watermark_ns":1700000000400000000,
     "identity":{"user.email":["ann@example.com",1700000000010000000]},
     "visitor_source":"9c1e…","visitor_attributes":{"visitor.country":"US",…},
     "visitor_id":"5d41…","visit_count":1,"referer":"","recent_clicks":[["//button",…]],
     "client_signals":[],"outbox":[{"rule":"quick_back","start_ns":…,"created_at":…}],
     "rrweb":{"ordinal":-1,"total":0,"next_chunk":0,"head":"","tail":"",…},
     "rage":{"elements":{"//button":{"recent":[…],"burst_first":null,…}}},
     "dead":{"pending":[{"click":{…},"arrival":1000010.0}],"change_starts":[…],…},
     "scroll":{"document_id":1,"page_url":"…","move_times":[…],…},
     "quick_back":{"pages":[["https://a/","https://a/",…]]}}

What is stored is what the records built up: times, counters, buffers, the event being
reassembled, signals waiting in the outbox. Wall-clock fields (`last_seen`, a pending
click's `arrival`, a rage element's `last_arrival`, a waiting signal's `created_at`) are
stored as they are, so settle and idle timeouts run on across a restore. What the
settings decide (windows, thresholds, buffer caps, ignored elements) is not stored: the
restoring process builds each detector from its own settings and loads the state into
it, so a settings change applies to restored sessions too (buffers over a smaller cap
keep their newest entries). Nor are the enricher's counters (`EnrichStats`) or the
per-process visit store: they are not per session.

The topic is a trust boundary: the bytes are read by pydantic's strict JSON validation
into the plain dataclasses declared below and next to each detector (ints, floats,
strings, lists, objects; nothing in the bytes names a type or runs code, unlike pickle),
then copied into fresh objects. A snapshot of another version or a malformed one is
logged and dropped: the session then starts afresh, as it did before snapshots existed.
A new format is a new `SNAPSHOT_VERSION`; old snapshots are dropped, not migrated
(they live for a session at most).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import TypeAdapter, ValidationError

from exos_common.logs import get_logger
from exos_enrich.frustration.dead_click import DeadClickState
from exos_enrich.frustration.excessive_scroll import ScrollState
from exos_enrich.frustration.quick_back import QuickBackState
from exos_enrich.frustration.rage_click import RageClickState
from exos_enrich.frustration.rrweb import RrwebState
from exos_enrich.frustration.signals import Candidate, ClientSignal, Outbox
from exos_enrich.session_state import (
    CLIENT_SIGNALS_KEPT,
    RECENT_CLICKS_KEPT,
    SessionState,
    new_session_state,
)
from exos_enrich.settings import EnrichSettings

SNAPSHOT_VERSION = 1

log = get_logger("exos.enrich")


@dataclass(slots=True)
class SessionSnapshot:
    """The snapshot format (field order is the JSON's)."""

    v: int
    session_id: str
    last_seen: float
    service_name: str
    resource_attributes: dict[str, str]
    span_watermark_ns: int
    identity: dict[str, tuple[str, int]]  # attribute -> (value, seen since ns)
    visitor_source: str | None
    visitor_attributes: dict[str, str]
    visitor_id: str
    visit_count: int
    referer: str
    recent_clicks: list[tuple[str, int]]
    client_signals: list[ClientSignal]
    outbox: list[Candidate]
    rrweb: RrwebState
    rage: RageClickState
    dead: DeadClickState
    scroll: ScrollState
    quick_back: QuickBackState


@dataclass(slots=True)
class _Version:
    v: int


_SNAPSHOT = TypeAdapter(SessionSnapshot)
_VERSION = TypeAdapter(_Version)


def snapshot_session(state: SessionState) -> bytes:
    """The session's state as orjson bytes (a few KB; sizes in docs/pipeline.md, "Enrich"). Raises
    orjson.JSONEncodeError only for an int beyond 64 bits, which records cannot carry."""
    return orjson.dumps(
        SessionSnapshot(
            v=SNAPSHOT_VERSION,
            session_id=state.session_id,
            last_seen=state.last_seen,
            service_name=state.service_name,
            resource_attributes=state.resource_attributes,
            span_watermark_ns=state.span_watermark_ns,
            identity=state.identity.snapshot_state(),
            visitor_source=state.visitor_source,
            visitor_attributes=state.visitor_attributes,
            visitor_id=state.visitor_id,
            visit_count=state.visit_count,
            referer=state.referer,
            recent_clicks=state.recent_clicks,
            client_signals=state.client_signals,
            outbox=state.outbox.waiting,
            rrweb=state.rrweb.snapshot_state(),
            rage=state.rage.snapshot_state(),
            dead=state.dead.snapshot_state(),
            scroll=state.scroll.snapshot_state(),
            quick_back=state.quick_back.snapshot_state(),
        )
    )


def restore_session(
    data: bytes, settings: EnrichSettings, *, ignored_elements: frozenset[str] | None = None
) -> SessionState | None:
    """The session a snapshot holds, configured from `settings`; None when the snapshot
    is of another version or malformed (logged and dropped, never raised: a snapshot
    must not stop a consumer). `ignored_elements`: the settings' parsed
    `dead_click_ignored_elements`, when the caller has it at hand."""
    try:
        version = _VERSION.validate_json(data, strict=True).v
    except ValidationError as error:
        log.warning("enrich_snapshot_dropped", reason="malformed", error=_first_error(error))
        return None
    if version != SNAPSHOT_VERSION:
        log.warning("enrich_snapshot_dropped", reason="version", version=version)
        return None
    try:
        snapshot = _SNAPSHOT.validate_json(data, strict=True)
        return _state_of(snapshot, settings, ignored_elements)
    except ValidationError as error:
        log.warning("enrich_snapshot_dropped", reason="malformed", error=_first_error(error))
    except Exception as error:  # inconsistent values (ValueError, OverflowError, ...)
        log.warning("enrich_snapshot_dropped", reason="inconsistent", error=repr(error))
    return None


def _state_of(
    snapshot: SessionSnapshot,
    settings: EnrichSettings,
    ignored_elements: frozenset[str] | None,
) -> SessionState:
    state = new_session_state(snapshot.session_id, settings, ignored_elements)
    state.last_seen = snapshot.last_seen
    state.service_name = snapshot.service_name
    state.resource_attributes = snapshot.resource_attributes
    state.span_watermark_ns = snapshot.span_watermark_ns
    state.identity.load_state(snapshot.identity)
    state.visitor_source = snapshot.visitor_source
    state.visitor_attributes = snapshot.visitor_attributes
    state.visitor_id = snapshot.visitor_id
    state.visit_count = snapshot.visit_count
    state.referer = snapshot.referer
    state.recent_clicks = snapshot.recent_clicks[-RECENT_CLICKS_KEPT:]
    state.client_signals = snapshot.client_signals[-CLIENT_SIGNALS_KEPT:]
    state.outbox = Outbox(snapshot.outbox)
    state.rrweb.load_state(snapshot.rrweb)
    state.rage.load_state(snapshot.rage)
    state.dead.load_state(snapshot.dead)
    state.scroll.load_state(snapshot.scroll)
    state.quick_back.load_state(snapshot.quick_back)
    return state


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
