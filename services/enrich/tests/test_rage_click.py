"""Rage click: more than 4 clicks on the same element within 2 s, one signal per burst."""

from __future__ import annotations

from enrich_testkit import (
    BUTTON,
    PAGE,
    SESSION,
    FakeClock,
    click,
    client_signal,
    feed,
    make_enricher,
    ns,
    settle,
    signals,
    span,
)

from exos_enrich.enricher import SessionEnricher
from exos_enrich.frustration.signals import signal_ids


def clicks(*times_ms: float, xpath: str = BUTTON) -> list:
    return [record for t in times_ms for record in click(t, xpath=xpath)]


def rage_after_settling(enricher: SessionEnricher, clock: FakeClock, *times_ms: float) -> list:
    out = feed(enricher, clicks(*times_ms))
    return signals(out + settle(enricher, clock), "rage_click")


def test_four_clicks_in_two_seconds_are_not_rage(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    assert rage_after_settling(enricher, clock, 0, 300, 600, 900) == []


def test_five_clicks_in_two_seconds_are_one_rage_click(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    [rage] = rage_after_settling(enricher, clock, 0, 300, 600, 900, 1200)
    assert rage.timestamp_ns == ns(0)  # the first click of the burst
    assert rage.duration_ns == 1200 * 1_000_000
    assert rage.session_id == SESSION
    assert rage.resource_attributes["rum.sessionId"] == SESSION
    assert rage.attributes["target_xpath"] == BUTTON
    assert rage.attributes["target_element"] == "BUTTON"
    assert rage.attributes["location.href"] == PAGE
    assert rage.attributes["frustration.count"] == "5"
    assert rage.attributes["frustration.duration_ms"] == "1200"
    assert rage.attributes["frustration.source"] == "server"


def test_six_clicks_are_exactly_one_rage_click_counting_all_six(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    [rage] = rage_after_settling(enricher, clock, 0, 300, 600, 900, 1200, 1500)
    assert rage.attributes["frustration.count"] == "6"
    assert rage.attributes["frustration.duration_ms"] == "1500"


def test_the_sdk_doubled_click_spans_count_once(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    # 4 physical clicks arrive as 8 identical-looking spans: still only 4 clicks.
    assert len(clicks(0, 200, 400, 600)) == 8
    assert rage_after_settling(enricher, clock, 0, 200, 400, 600) == []


def test_the_window_is_two_seconds_inclusive(clock: FakeClock) -> None:
    assert len(rage_after_settling(make_enricher(clock), clock, 0, 500, 1000, 1500, 2000)) == 1
    assert rage_after_settling(make_enricher(clock), clock, 0, 500, 1000, 1500, 2001) == []


def test_two_bursts_more_than_two_seconds_apart_are_two_signals(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    first, second = rage_after_settling(
        enricher, clock, 0, 200, 400, 600, 800, 3000, 3200, 3400, 3600, 3800
    )
    assert (first.timestamp_ns, second.timestamp_ns) == (ns(0), ns(3000))
    assert first.span_id != second.span_id
    assert first.trace_id == second.trace_id  # one trace per session


def test_clicks_on_different_elements_do_not_add_up(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, clicks(0, 200, 400, xpath="//a"), clicks(100, 300, 500, xpath="//b"))
    assert signals(out + settle(enricher, clock)) == []


def test_a_later_span_closes_the_burst_without_waiting(enricher: SessionEnricher) -> None:
    feed(enricher, clicks(0, 200, 400, 600, 800))
    # A click 1.5 s after the last one would still belong to the burst: nothing yet.
    assert signals(enricher.process(span("longtask", 2300))) == []
    out = enricher.process(span("longtask", 2801))
    assert [r.name for r in out] == ["longtask", "rage_click"]


def test_a_burst_that_goes_on_stays_one_signal(enricher: SessionEnricher, clock: FakeClock) -> None:
    # Clicks every 1.5 s after the burst keep extending it (each within 2 s of the last).
    [rage] = rage_after_settling(enricher, clock, 0, 100, 200, 300, 400, 1900, 3400)
    assert rage.attributes["frustration.count"] == "7"


def test_the_signal_carries_a_deterministic_id(clock: FakeClock) -> None:
    first = rage_after_settling(make_enricher(clock), clock, 0, 200, 400, 600, 800)
    again = rage_after_settling(make_enricher(clock), clock, 0, 200, 400, 600, 800)
    assert (first[0].trace_id, first[0].span_id) == (again[0].trace_id, again[0].span_id)
    assert len(first[0].span_id) == 16 and len(first[0].trace_id) == 32


def test_signal_ids_differ_by_session_rule_and_time() -> None:
    from exos_enrich.frustration.signals import Candidate

    base = Candidate("rage_click", ns(0), ns(800), BUTTON, {})
    ids = {
        signal_ids(SESSION, base)[1],
        signal_ids("other-session", base)[1],
        signal_ids(SESSION, Candidate("dead_click", ns(0), ns(800), BUTTON, {}))[1],
        signal_ids(SESSION, Candidate("rage_click", ns(1), ns(800), BUTTON, {}))[1],
    }
    assert len(ids) == 4


def test_a_client_sent_rage_click_is_not_doubled(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    # A page script's own detection:
    # HyperDX.addAction('rage_click', {element: 'button#submit', count: 6})
    out = feed(
        enricher,
        clicks(0, 200, 400, 600, 800),
        client_signal("rage_click", 800, element="button#submit", count="5"),
    )
    out += settle(enricher, clock)
    assert signals(out) == []
    assert [r.name for r in out if r.name == "rage_click"] == ["rage_click"]  # the client's
    assert enricher.stats.signals_suppressed_by_client["rage_click"] == 1


def test_a_client_signal_for_another_element_does_not_suppress(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(
        enricher,
        clicks(0, 200, 400, 600, 800),
        client_signal("rage_click", 800, target_xpath="//nav/a[3]"),
    )
    assert len(signals(out + settle(enricher, clock), "rage_click")) == 1


def test_a_client_signal_long_before_does_not_suppress(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, client_signal("rage_click", -10_000), clicks(0, 200, 400, 600, 800))
    assert len(signals(out + settle(enricher, clock), "rage_click")) == 1


def test_rules_can_be_turned_off(clock: FakeClock) -> None:
    enricher = make_enricher(clock, frustration_rules="dead_click,quick_back")
    assert rage_after_settling(enricher, clock, 0, 100, 200, 300, 400, 500) == []


def test_thresholds_are_settings(clock: FakeClock) -> None:
    enricher = make_enricher(clock, frustration_rage_clicks=2, frustration_rage_window_ms=500)
    assert len(rage_after_settling(enricher, clock, 0, 200, 400)) == 1
    assert rage_after_settling(make_enricher(clock, frustration_rage_clicks=2), clock, 0, 200) == []
