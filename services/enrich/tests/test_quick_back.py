"""Quick back: A -> B -> A within 15 s (documentLoad / routeChange)."""

from __future__ import annotations

from enrich_testkit import (
    FakeClock,
    client_signal,
    feed,
    make_enricher,
    navigation,
    ns,
    settle,
    signals,
)

from exos_enrich.enricher import SessionEnricher
from exos_enrich.frustration.quick_back import page_key

A = "https://exos-demo.com/orders.html"
B = "https://exos-demo.com/orders/123.html"
C = "https://exos-demo.com/inbox.html"


def quick_backs(enricher: SessionEnricher, clock: FakeClock, *records: object) -> list:
    return signals(feed(enricher, *records) + settle(enricher, clock), "quick_back")


def test_back_after_ten_seconds_is_a_quick_back(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    [signal] = quick_backs(
        enricher,
        clock,
        navigation("documentLoad", 0, A),
        navigation("routeChange", 5_000, B, prev=A),
        navigation("routeChange", 15_000, A, prev=B),
    )
    assert signal.timestamp_ns == ns(5_000)  # arriving on B
    assert signal.duration_ns == 10_000 * 1_000_000
    assert signal.attributes["frustration.from_url"] == A
    assert signal.attributes["frustration.via_url"] == B
    assert signal.attributes["frustration.duration_ms"] == "10000"
    assert signal.attributes["location.href"] == A


def test_back_after_twenty_seconds_is_not(enricher: SessionEnricher, clock: FakeClock) -> None:
    assert (
        quick_backs(
            enricher,
            clock,
            navigation("documentLoad", 0, A),
            navigation("routeChange", 5_000, B, prev=A),
            navigation("routeChange", 25_000, A, prev=B),
        )
        == []
    )


def test_fifteen_seconds_exactly_still_counts(clock: FakeClock) -> None:
    records = [
        navigation("documentLoad", 0, A),
        navigation("documentLoad", 1_000, B),
        navigation("documentLoad", 16_000, A),
    ]
    assert len(quick_backs(make_enricher(clock), clock, *records)) == 1
    records[-1] = navigation("documentLoad", 16_001, A)
    assert quick_backs(make_enricher(clock), clock, *records) == []


def test_going_somewhere_else_in_between_is_not_a_quick_back(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    records = [
        navigation("documentLoad", 0, A),
        navigation("routeChange", 2_000, B, prev=A),
        navigation("routeChange", 4_000, C, prev=B),
        navigation("routeChange", 6_000, A, prev=C),
    ]
    assert quick_backs(enricher, clock, *records) == []


def test_a_reload_is_not_a_navigation(enricher: SessionEnricher, clock: FakeClock) -> None:
    records = [
        navigation("documentLoad", 0, A),
        navigation("documentLoad", 2_000, B),
        navigation("documentLoad", 3_000, B),  # reload of B
        navigation("documentLoad", 20_000, A),  # 18 s after arriving on B
    ]
    assert quick_backs(enricher, clock, *records) == []


def test_the_start_page_can_come_from_prev_href(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    # No documentLoad seen (e.g. it was before this consumer's offsets): prev.href tells A.
    records = [
        navigation("routeChange", 5_000, B, prev=A),
        navigation("routeChange", 9_000, A, prev=B),
    ]
    assert len(quick_backs(enricher, clock, *records)) == 1


def test_fragments_are_the_same_page_unless_they_are_routes() -> None:
    assert page_key(A + "#details") == A
    assert page_key(A + "#/orders/1") == A + "#/orders/1"


def test_a_client_sent_quick_back_is_not_doubled(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    records = [
        navigation("documentLoad", 0, A),
        navigation("routeChange", 5_000, B, prev=A),
        navigation("routeChange", 8_000, A, prev=B),
        client_signal("quick_back", 8_001),
    ]
    assert quick_backs(enricher, clock, *records) == []
