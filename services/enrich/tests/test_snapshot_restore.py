"""Restoring snapshots into the session table (bad bytes, LRU, idle order), what
`take_touched` reports, and that every field of the state is either stored or derived
from the settings."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from enrich_testkit import (
    SESSION,
    FakeClock,
    click,
    feed,
    log,
    make_enricher,
    meta,
    mouse_move,
    mutation,
    navigation,
    scroll,
    settings,
    signals,
    span,
    typical_session,
)

from exos_enrich.frustration.dead_click import DeadClickDetector, ResponseHistory
from exos_enrich.frustration.excessive_scroll import ScrollDetector
from exos_enrich.frustration.quick_back import QuickBackDetector
from exos_enrich.frustration.rage_click import RageClickDetector
from exos_enrich.frustration.rrweb import RrwebReassembler
from exos_enrich.identity import SessionIdentity
from exos_enrich.session_state import SessionState
from exos_enrich.snapshot import SessionSnapshot, restore_session


def snapshot_of(*records: Any, session: str = SESSION, clock: FakeClock | None = None) -> bytes:
    enricher = make_enricher(clock or FakeClock())
    feed(enricher, *records)
    data = enricher.snapshot(session)
    assert data is not None
    return data


def edited(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    decoded = orjson.loads(data)
    edit(decoded)
    return orjson.dumps(decoded)


# -- bad bytes are dropped, never raised ----------------------------------------------------

UNPICKLED: list[str] = []


def _unpickled() -> None:
    UNPICKLED.append("code from the bytes ran")


class _Payload:
    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return _unpickled, ()


def _typical() -> bytes:
    return snapshot_of(typical_session(SESSION))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(decoded: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = decoded
        for key in parents:
            target = target[key]
        target[last] = value

    return edit


BAD = {
    "empty": b"",
    "not json": b"\x00\xff\xfe",
    "json null": b"null",
    "json list": b"[1,2]",
    "no version": b"{}",
    "version only": b'{"v":1}',
    "pickle": pickle.dumps(_Payload()),
    "truncated": _typical()[:-20],
    "string version": edited(_typical(), _set("v", "1")),
    "wrong type": edited(_typical(), _set("span_watermark_ns", "1700000000000000000")),
    "bool for int": edited(_typical(), _set("visit_count", True)),
    "nested wrong type": edited(_typical(), _set("rage.elements.//button[2].recent", ["x"])),
    "missing detector": edited(_typical(), lambda d: d.pop("scroll")),
    "uneven scroll moves": edited(_typical(), _set("scroll.move_directions", [1])),
    "uneven dom changes": edited(_typical(), _set("dead.change_ends", [1, 2])),
    "time beyond int64": edited(_typical(), _set("scroll.move_times", [2**63] * 29)),
}


@pytest.mark.parametrize("data", BAD.values(), ids=BAD.keys())
def test_malformed_snapshots_are_dropped(data: bytes) -> None:
    assert restore_session(data, settings()) is None
    enricher = make_enricher(FakeClock())
    assert enricher.restore(data) is False
    assert len(enricher) == 0
    assert UNPICKLED == []


def test_a_snapshot_of_another_version_is_dropped() -> None:
    data = _typical()
    assert restore_session(data, settings()) is not None
    for version in (0, 2):
        assert restore_session(edited(data, _set("v", version)), settings()) is None
    # A future version may change anything but "v".
    assert restore_session(b'{"v":2,"sessions":[]}', settings()) is None


def test_a_session_that_cannot_be_encoded_has_no_snapshot() -> None:
    enricher = make_enricher(FakeClock())
    feed(enricher, span("documentLoad", 0))
    state = enricher.session(SESSION)
    assert state is not None
    state.visit_count = 2**70  # nothing a record can set; the engine writes no state
    assert enricher.snapshot(SESSION) is None
    assert enricher.snapshot("never-seen") is None


# -- the session table --------------------------------------------------------------------


def test_restore_replaces_a_session_held_with_the_same_id() -> None:
    data = snapshot_of(navigation("documentLoad", 0, "https://a.test/"))
    enricher = make_enricher(FakeClock())
    feed(enricher, *[click(100 * i) for i in range(3)])
    assert enricher.restore(data)
    state = enricher.session(SESSION)
    assert state is not None and state.rage.tracked == 0 and state.dead.pending == 0
    assert enricher.session_ids() == [SESSION]


def test_restored_sessions_take_their_place_by_last_activity() -> None:
    clock = FakeClock(10_000.0)
    old = snapshot_of(span("a", 0, session="old"), session="old", clock=FakeClock(9_000.0))
    enricher = make_enricher(clock, enrich_session_idle_s=1800)
    feed(enricher, span("a", 0, session="new"))
    assert enricher.restore(old)
    clock.advance(799)  # "old" idle for 1799 s
    enricher.flush_expired()
    assert sorted(enricher.session_ids()) == ["new", "old"]
    clock.advance(1)
    enricher.flush_expired()
    assert enricher.session_ids() == ["new"]  # found although restored after "new"


def test_a_last_activity_ahead_of_this_clock_is_clamped() -> None:
    ahead = snapshot_of(span("a", 0), clock=FakeClock(20_000.0))
    clock = FakeClock(10_000.0)
    enricher = make_enricher(clock, enrich_session_idle_s=60)
    assert enricher.restore(ahead)
    clock.advance(60)
    enricher.flush_expired()
    assert len(enricher) == 0


def test_restoring_over_the_cap_evicts_the_least_recently_active() -> None:
    busy = snapshot_of(*[click(100 * i, session="busy") for i in range(5)], session="busy")
    clock = FakeClock(2_000_000.0)  # after the snapshot's clock: "busy" is the oldest
    enricher = make_enricher(clock, enrich_max_sessions=2)
    feed(enricher, span("a", 0, session="s1"), span("a", 0, session="s2"))
    enricher.take_touched()
    assert enricher.restore(busy)
    assert sorted(enricher.session_ids()) == ["s1", "s2"]  # it was the oldest itself
    # Its open burst is certain: published with the next flush, and its end reported.
    assert [s.session_id for s in signals(enricher.flush_expired(), "rage_click")] == ["busy"]
    assert enricher.take_touched() == {"busy"}
    assert enricher.snapshot("busy") is None
    # A session restored more recent than a held one evicts that one instead.
    clock.advance(10)
    feed(enricher, span("a", 1, session="s2"))
    enricher.take_touched()
    recent = snapshot_of(span("a", 0, session="s3"), session="s3", clock=FakeClock(clock.now))
    assert enricher.restore(recent)
    assert sorted(enricher.session_ids()) == ["s2", "s3"]
    assert enricher.take_touched() == {"s1"}


def test_a_restored_session_with_open_work_is_settled_by_flush() -> None:
    clock = FakeClock()
    data = snapshot_of(*[click(100 * i) for i in range(5)], clock=FakeClock(clock.now))
    enricher = make_enricher(clock)
    assert enricher.restore(data)
    clock.advance(15)
    [rage] = signals(enricher.flush_expired(), "rage_click")
    assert rage.attributes["frustration.count"] == "5"


# -- take_touched ---------------------------------------------------------------------------


def test_take_touched_reports_created_and_updated_sessions_once() -> None:
    enricher = make_enricher(FakeClock())
    assert enricher.take_touched() == set()
    feed(enricher, span("a", 0, session="s1"), meta(0, session="s2"))
    assert enricher.take_touched() == {"s1", "s2"}
    assert enricher.take_touched() == set()
    feed(enricher, log(10, session="s1"), log(10, session="unknown"), span("a", 0, session=""))
    assert enricher.take_touched() == {"s1"}  # a log moves last_seen; unknown: nothing held


def test_take_touched_reports_what_flush_changed_or_ended() -> None:
    clock = FakeClock()
    enricher = make_enricher(clock, enrich_session_idle_s=100)
    feed(enricher, click(0, session="waiting"), span("a", 0, session="quiet"))
    enricher.take_touched()
    clock.advance(10)
    enricher.flush_expired()
    assert enricher.take_touched() == set()  # the click still waits: nothing changed
    clock.advance(10)
    enricher.flush_expired()
    assert enricher.take_touched() == {"waiting"}  # settled: its rage element is forgotten
    clock.advance(40)
    enricher.flush_expired()
    assert enricher.take_touched() == {"waiting"}  # its click timed out waiting for replay
    clock.advance(40)
    enricher.flush_expired()
    assert enricher.take_touched() == {"waiting", "quiet"}  # expired: snapshot is None
    assert enricher.snapshot("waiting") is enricher.snapshot("quiet") is None


def test_take_touched_reports_evicted_sessions() -> None:
    enricher = make_enricher(FakeClock(), enrich_max_sessions=1)
    feed(enricher, span("a", 0, session="s1"))
    enricher.take_touched()
    feed(enricher, span("a", 0, session="s2"))
    assert enricher.take_touched() == {"s1", "s2"}


def test_forgotten_and_restored_sessions_are_not_reported() -> None:
    enricher = make_enricher(FakeClock())
    feed(enricher, span("a", 0, session="s1"), span("a", 0, session="s2"))
    # The partition of s1 moved: its new owner holds it; a tombstone would delete that.
    enricher.forget(["s1"])
    assert enricher.take_touched() == {"s2"}
    assert enricher.restore(snapshot_of(span("a", 0, session="s3"), session="s3"))
    assert enricher.take_touched() == set()


def test_every_change_of_a_session_is_reported() -> None:
    """After each step, a session whose snapshot bytes changed is in take_touched."""
    clock = FakeClock()
    enricher = make_enricher(clock, enrich_session_idle_s=600, enrich_max_sessions=3)
    steps: list[Callable[[], object]] = [
        lambda: feed(enricher, typical_session("t1")[:40]),
        lambda: feed(enricher, typical_session("t1")[40:]),
        lambda: feed(enricher, *[click(100 * i, session="t2") for i in range(5)]),
        lambda: feed(enricher, navigation("documentLoad", 0, "https://a.test/")),
        lambda: feed(enricher, meta(0, session="t2"), mutation(50, session="t2")),
        lambda: feed(enricher, mouse_move(900, session="t2"), scroll(1000, 10, session="t2")),
        lambda: clock.advance(20),
        enricher.flush_expired,
        lambda: feed(enricher, log(5, session="t2")),
        lambda: feed(enricher, span("a", 0, session="t4")),  # evicts the oldest
        lambda: clock.advance(60),
        enricher.flush_expired,
        lambda: clock.advance(600),
        enricher.flush_expired,
    ]
    seen: set[str] = set()
    for step in steps:
        before = {sid: enricher.snapshot(sid) for sid in enricher.session_ids()}
        step()
        touched = enricher.take_touched()
        seen |= touched
        for sid in set(before) | set(enricher.session_ids()):
            if enricher.snapshot(sid) != before.get(sid):
                assert sid in touched, (step, sid)
    assert seen == {"t1", "t2", SESSION, "t4"}


# -- every field is either stored or configuration ---------------------------------------

# Fields a snapshot does not store because the settings decide them.
CONFIGURATION: dict[type, set[str]] = {
    RageClickDetector: {"_max_elements", "_threshold", "_window_ns"},
    DeadClickDetector: {"_cap", "_history_ns", "_ignored", "_wait_s", "_window_ns"},
    ResponseHistory: {"_cap", "_gap_ns"},
    ScrollDetector: {"_cap", "_changes_limit", "_distance_ratio", "_window_ns"},
    QuickBackDetector: {"_window_ns"},
    RrwebReassembler: set(),
    SessionIdentity: set(),
}
# Fields each snapshot stores (the dataclasses it holds are stored whole).
STORED: dict[type, set[str]] = {
    RageClickDetector: {"_elements"},
    DeadClickDetector: {
        "_pending",
        "history",
        "replay_first_ns",
        "replay_watermark_ns",
        "undecided",
    },
    ResponseHistory: {"_starts", "_ends", "floor_ns"},
    ScrollDetector: {
        "_document_id",
        "_page_url",
        "_viewport_height",
        "_last_y",
        "_max_y",
        "_move_times",
        "_move_distances",
        "_move_directions",
        "_changes",
        "_distance",
    },
    QuickBackDetector: {"_pages"},
    RrwebReassembler: {"_ordinal", "_total", "_next", "_head", "_tail", "dropped_events"},
    SessionIdentity: {"_values"},
}


@pytest.mark.parametrize("cls", list(CONFIGURATION), ids=lambda c: c.__name__)
def test_every_detector_field_is_stored_or_configuration(cls: type) -> None:
    """A new field must be added to the snapshot (and here) or be configuration."""
    assert set(vars(cls)["__slots__"]) == CONFIGURATION[cls] | STORED[cls]
    assert not CONFIGURATION[cls] & STORED[cls]


def test_every_session_field_is_in_the_snapshot() -> None:
    session_fields = {f.name for f in dataclasses.fields(SessionState)}
    snapshot_fields = {f.name for f in dataclasses.fields(SessionSnapshot)}
    assert session_fields == snapshot_fields - {"v"}


def test_restored_detectors_are_configured_by_the_restoring_settings() -> None:
    data = _typical()
    state = restore_session(data, settings(frustration_quick_back_s=5, enrich_session_buffer=8))
    assert state is not None
    assert state.quick_back._window_ns == 5_000_000_000
    assert state.scroll._cap == 8 and len(state.scroll.snapshot_state().move_times) == 8
    assert len(state.dead.history) == 8
    assert state.dead.history.floor_ns > orjson.loads(data)["dead"]["history_floor_ns"]
