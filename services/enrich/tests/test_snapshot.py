"""Session snapshots: a session stopped mid-way, snapshotted and restored into a new
enricher, goes on exactly as the original (same published bytes) for every rule."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from enrich_testkit import (
    FakeClock,
    click,
    client_signal,
    feed,
    full_snapshot,
    log,
    make_enricher,
    meta,
    mouse_move,
    mutation,
    navigation,
    scroll,
    signals,
    span,
)

from exos_common.messages import ClientContext
from exos_enrich.enricher import SessionEnricher
from exos_enrich.geo import GeoInfo
from exos_enrich.session_state import SessionState
from exos_enrich.snapshot import SNAPSHOT_VERSION, SessionSnapshot

SESSION = "4f1c9a2b7d3e4c5f8a9b0c1d2e3f4a5b"  # enrich_testkit's default session
A = "https://exos-demo.com/a.html"
B = "https://exos-demo.com/b.html"


def flat(records: tuple[Any, ...]) -> list[Any]:
    return [r for batch in records for r in (batch if isinstance(batch, list) else [batch])]


def encoded(records: list[Any]) -> list[bytes]:
    """Published records as bytes: attribute order counts too."""
    return [orjson.dumps(r) for r in records]


class Twins:
    """An enricher fed `prefix`, and a new enricher restored from its snapshot of the
    session. Every later step goes to both, each with its own copy of the records (the
    enricher enriches in place), and must publish the same bytes."""

    def __init__(self, *prefix: Any, geo: Any = None, **overrides: Any) -> None:
        self.clock = FakeClock()
        self.original = make_enricher(self.clock, geo, **overrides)
        feed(self.original, *prefix)
        self.data = self.original.snapshot(SESSION)
        assert self.data is not None
        self.clock.advance(3)  # the new replica starts a little later
        self.restored_clock = FakeClock(self.clock.now)
        self.restored = make_enricher(self.restored_clock, geo, **overrides)
        assert self.restored.restore(self.data)
        # The same records without the state: shows what the state changes.
        self.fresh_clock = FakeClock(self.clock.now)
        self.fresh = make_enricher(self.fresh_clock, geo, **overrides)
        self.fresh_out: list[Any] = []

    def feed(self, *records: Any) -> list[Any]:
        batch = flat(records)
        out = feed(self.original, copy.deepcopy(batch))
        assert encoded(feed(self.restored, copy.deepcopy(batch))) == encoded(out)
        self.fresh_out = feed(self.fresh, copy.deepcopy(batch))
        return out

    def settle(self, seconds: float) -> list[Any]:
        for clock in (self.clock, self.restored_clock, self.fresh_clock):
            clock.advance(seconds)
        out = self.original.flush_expired()
        assert encoded(self.restored.flush_expired()) == encoded(out)
        self.fresh_out = self.fresh.flush_expired()
        return out

    def assert_same_state(self) -> None:
        assert self.original.snapshot(SESSION) == self.restored.snapshot(SESSION)


def held(enricher: SessionEnricher, session: str = SESSION) -> SessionState:
    state = enricher.session(session)
    assert state is not None
    return state


# -- every rule goes on where it stopped -------------------------------------------------


def test_a_rage_burst_split_mid_way_and_mid_click() -> None:
    # Three clicks and the first of the SDK's two spans of the fourth.
    twins = Twins(click(0), click(100), click(200), click(300)[0])
    out = twins.feed(click(300)[1], click(400), click(500), span("visibility", 5000))
    [rage] = signals(out, "rage_click")
    # 6 clicks: the fourth click's second span is the same click (recent clicks restored).
    assert rage.attributes["frustration.count"] == "6"
    assert rage.timestamp_ns == click(0)[0].timestamp_ns
    assert signals(twins.fresh_out) == []  # three clicks alone are no burst
    twins.assert_same_state()


def test_an_open_rage_burst_settles_by_wall_time_after_a_restore() -> None:
    twins = Twins(*[click(100 * i) for i in range(5)])
    assert twins.settle(10) == []
    [rage] = signals(twins.settle(6), "rage_click")  # settle_s = 15 s after the last click
    assert rage.attributes["frustration.count"] == "5"
    twins.assert_same_state()


def test_a_click_waiting_for_replay_is_decided_after_a_restore() -> None:
    twins = Twins(span("documentLoad", 0), meta(0), full_snapshot(1), click(1000))
    assert held(twins.restored).dead.pending == 1
    out = twins.feed(mouse_move(1600), span("visibility", 3000))
    [dead] = signals(out, "dead_click")
    assert dead.timestamp_ns == click(1000)[0].timestamp_ns
    assert signals(twins.fresh_out) == []
    twins.assert_same_state()


def test_remembered_dom_changes_decide_a_late_click_after_a_restore() -> None:
    # The replay is ahead: a DOM change at 2100 answers the click at 2000 when it comes.
    twins = Twins(meta(0), full_snapshot(1), mutation(2100), mouse_move(3000))
    out = twins.feed(click(2000), click(2600, xpath="//a[1]"), mouse_move(3200))
    out += twins.feed(span("visibility", 5000))
    [dead] = signals(out, "dead_click")
    assert dead.attributes["target_xpath"] == "//a[1]"
    twins.assert_same_state()


def test_a_click_waiting_for_replay_still_times_out_after_a_restore() -> None:
    twins = Twins(click(0))
    assert twins.settle(30) == []
    assert held(twins.restored).dead.pending == 1
    assert twins.settle(30) == []  # wait_s = 60 s after its arrival on the first replica
    assert held(twins.original).dead.pending == held(twins.restored).dead.pending == 0
    assert twins.restored.stats.dead_clicks_undecided == 1
    twins.assert_same_state()


def test_a_quick_back_half_way_is_completed_after_a_restore() -> None:
    twins = Twins(navigation("documentLoad", 0, A), navigation("routeChange", 2000, B, A))
    out = twins.feed(navigation("routeChange", 5000, A, B), span("visibility", 7000))
    [back] = signals(out, "quick_back")
    assert back.attributes["frustration.via_url"] == B
    assert signals(twins.fresh_out) == []
    twins.assert_same_state()


def test_a_signal_waiting_in_the_outbox_is_published_after_a_restore() -> None:
    back = navigation("routeChange", 5000, A, B)
    twins = Twins(navigation("documentLoad", 0, A), navigation("routeChange", 2000, B, A), back)
    assert len(held(twins.restored).outbox.waiting) == 1
    [published] = signals(twins.feed(span("visibility", 7000)), "quick_back")
    assert signals(twins.fresh_out) == []
    assert published.span_id  # the same deterministic ids on both (compared as bytes)


def test_a_signal_waiting_in_the_outbox_is_suppressed_by_the_client_after_a_restore() -> None:
    back = navigation("routeChange", 5000, A, B)
    twins = Twins(navigation("documentLoad", 0, A), navigation("routeChange", 2000, B, A), back)
    out = twins.feed(client_signal("quick_back", 5100), span("visibility", 7000))
    assert signals(out) == []
    assert twins.original.stats.signals_suppressed_by_client["quick_back"] == 1
    assert twins.restored.stats.signals_suppressed_by_client["quick_back"] == 1


def test_a_client_signal_seen_before_the_snapshot_suppresses_after_it() -> None:
    twins = Twins(
        navigation("documentLoad", 0, A),
        navigation("routeChange", 2000, B, A),
        client_signal("quick_back", 4900),
    )
    out = twins.feed(navigation("routeChange", 5000, A, B), span("visibility", 7000))
    assert signals(out) == []
    twins.assert_same_state()


def test_scroll_direction_changes_go_on_counting_after_a_restore() -> None:
    # Document height = deepest 1000 + viewport 800: more than 2340 px and 3 changes.
    twins = Twins(
        meta(0, height=800),
        full_snapshot(1),
        scroll(1000, 1000),
        scroll(2000, 0),
        scroll(3000, 1000),
    )
    out = twins.feed(scroll(4000, 0), scroll(5000, 1000), span("visibility", 7000))
    [excessive] = signals(out, "excessive_scroll")
    assert excessive.attributes["frustration.direction_changes"] == "4"
    assert excessive.timestamp_ns == scroll(1000, 1000)[0].timestamp_ns
    assert signals(twins.fresh_out) == []
    twins.assert_same_state()


def test_an_rrweb_event_half_reassembled_is_completed_after_a_restore() -> None:
    # A full snapshot in three chunks, scrolled to 3000: the scrolls after it make an
    # excessive scroll only when its initial offset is known.
    snapshot_chunks = full_snapshot(1, top=3000, padding=3000, chunks=3)
    twins = Twins(meta(0), snapshot_chunks[0])
    ys = [2000, 3000, 2000, 3000, 2000]
    out = twins.feed(snapshot_chunks[1:], *[scroll(1000 * (i + 1), y) for i, y in enumerate(ys)])
    out += twins.feed(span("visibility", 8000))
    [excessive] = signals(out, "excessive_scroll")
    assert excessive.attributes["frustration.document_height_px"] == "3800"
    assert held(twins.restored).rrweb.dropped_events == 0
    assert signals(twins.fresh_out) == []  # the stray chunks alone are a lost event
    twins.assert_same_state()


def test_identity_and_visitor_attributes_survive_a_restore() -> None:
    geo = _Geo(
        {"73.162.10.20": GeoInfo(country="US", city="Oakland"), "8.8.8.8": GeoInfo(country="DE")}
    )
    home = ClientContext(ip="73.162.10.20", user_agent="Mozilla/5.0 Chrome/122.0.0.0")
    twins = Twins(
        span("documentLoad", 0, client=home, attributes={"document.referrer": "https://x.test/"}),
        span("signin", 10, client=home, attributes={"user.email": "ann@example.com"}),
        geo=geo,
    )
    later = twins.feed(span("visibility", 20, client=home), log(30))
    visibility, late_log = later
    assert visibility.attributes["user.email"] == "ann@example.com"
    assert visibility.attributes["visitor.city"] == "Oakland"
    assert visibility.attributes["visitor.referer"] == "https://x.test/"
    assert late_log.attributes["user.email"] == "ann@example.com"
    assert "user.email" not in twins.fresh_out[0].attributes
    # A new network later: geo changes, the visit (id, count) does not.
    roaming = ClientContext(ip="8.8.8.8", user_agent="Mozilla/5.0 Chrome/122.0.0.0")
    [moved] = twins.feed(span("click-ish", 40, client=roaming))
    assert moved.attributes["visitor.country"] == "DE"
    assert moved.attributes["visitor.visit_count"] == "1"
    twins.assert_same_state()


def test_a_restored_session_still_expires_when_idle() -> None:
    twins = Twins(span("documentLoad", 0), *[click(100 * i) for i in range(5)])
    twins.settle(1795)  # 3 s passed before the restore: 1798 s idle
    assert twins.restored.session_ids() == [SESSION]
    twins.settle(2)
    assert twins.original.session_ids() == twins.restored.session_ids() == []


def test_a_snapshot_restores_to_the_same_bytes() -> None:
    clock = FakeClock()
    enricher = make_enricher(clock)
    feed(enricher, _typical_session_of_the_testkit())
    data = enricher.snapshot(SESSION)
    assert data is not None
    again = make_enricher(FakeClock(clock.now))
    assert again.restore(data)
    assert again.snapshot(SESSION) == data


class _Geo:
    def __init__(self, table: dict[str, GeoInfo]) -> None:
        self.table = table

    def lookup(self, ip: str) -> GeoInfo:
        return self.table.get(ip, GeoInfo())


def _typical_session_of_the_testkit() -> list[Any]:
    from enrich_testkit import typical_session

    return typical_session(SESSION)


# -- the format ----------------------------------------------------------------------------


def test_the_snapshot_is_a_versioned_json_object_without_configuration() -> None:
    enricher = make_enricher(FakeClock())
    feed(enricher, _typical_session_of_the_testkit())
    data = enricher.snapshot(SESSION)
    assert data is not None and data.startswith(b'{"v":1,')
    decoded = orjson.loads(data)
    assert decoded["v"] == SNAPSHOT_VERSION
    assert list(decoded) == list(SessionSnapshot.__dataclass_fields__)
    assert decoded["identity"] == {
        "user.email": ["ann@example.com", decoded["identity"]["user.email"][1]]
    }

    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    for setting_like in ("window", "threshold", "cap", "limit", "ratio", "wait", "ignored"):
        assert not [k for k in keys(decoded) if setting_like in k]
    assert "73.162.10.20" not in data.decode()  # the visitor's source is kept as a digest


def test_a_typical_session_snapshot_is_a_few_kilobytes() -> None:
    enricher = make_enricher(FakeClock())
    feed(enricher, _typical_session_of_the_testkit())
    data = enricher.snapshot(SESSION)
    assert data is not None
    print(f"typical session snapshot: {len(data)} bytes")
    assert len(data) < 4 * 1024
    small = make_enricher(FakeClock())
    feed(small, span("documentLoad", 0), click(100))
    small_data = small.snapshot(SESSION)
    assert small_data is not None
    print(f"one page view and a click: {len(small_data)} bytes")
    assert len(small_data) < 2 * 1024


def test_settings_apply_to_a_restored_session() -> None:
    clock = FakeClock()
    original = make_enricher(clock)
    feed(
        original,
        *[click(i * 100 - 3_000, xpath=f"//b[{i}]") for i in range(20)],
        click(0),
        click(100),
    )
    data = original.snapshot(SESSION)
    assert data is not None
    stricter = make_enricher(
        FakeClock(clock.now), frustration_rage_clicks=2, enrich_session_buffer=8
    )
    assert stricter.restore(data)
    assert held(stricter).dead.pending == 8  # the newest clicks waiting for replay kept
    # Two clicks were not a rage burst under 4; a third one is under 2.
    out = feed(stricter, click(200), span("visibility", 20_000))
    [rage] = signals(out, "rage_click")
    assert rage.attributes["frustration.count"] == "3"
