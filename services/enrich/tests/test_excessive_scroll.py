"""Excessive scroll: more than 3 direction changes AND more than 130 % of the document
height scrolled, within 30 s on one page (from rrweb scroll events)."""

from __future__ import annotations

from enrich_testkit import (
    PAGE,
    FakeClock,
    client_signal,
    feed,
    full_snapshot,
    make_enricher,
    meta,
    ns,
    scroll,
    settle,
    signals,
)

from exos_enrich.enricher import SessionEnricher


def page(height: int = 800) -> list:
    return [*meta(0, height=height), *full_snapshot(1, top=0)]


def scrolls(*positions: tuple[float, int], node: int = 1) -> list:
    return [chunk for at, y in positions for chunk in scroll(at, y, node=node)]


def test_four_direction_changes_over_130_percent_is_excessive(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    # Moves: +1000, -800, +800, -800, +800 -> 4 direction changes, 4200 px scrolled.
    # Document height is at least 1000 (deepest) + 800 (viewport) = 1800; 130 % = 2340.
    out = feed(
        enricher,
        page(),
        scrolls((1000, 1000), (2000, 200), (3000, 1000), (4000, 200), (5000, 1000)),
    )
    [signal] = signals(out + settle(enricher, clock), "excessive_scroll")
    assert signal.timestamp_ns == ns(1000)
    assert signal.duration_ns == 4000 * 1_000_000
    assert signal.attributes["location.href"] == PAGE
    assert signal.attributes["frustration.direction_changes"] == "4"
    assert signal.attributes["frustration.scroll_distance_px"] == "4200"
    assert signal.attributes["frustration.document_height_px"] == "1800"
    assert signal.attributes["frustration.scroll_ratio_pct"] == "233"


def test_three_direction_changes_are_not_excessive(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, page(), scrolls((1000, 1000), (2000, 0), (3000, 1000), (4000, 0)))
    assert signals(out + settle(enricher, clock)) == []


def test_many_changes_over_a_short_distance_are_not_excessive(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    # +1000 then jiggles of 10 px: 4 changes, 1050 px < 130 % of 1810.
    out = feed(
        enricher,
        page(),
        scrolls((1000, 1000), (1100, 1010), (1200, 1000), (1300, 1010), (1400, 1000), (1500, 1010)),
    )
    assert signals(out + settle(enricher, clock)) == []


def test_the_distance_must_exceed_130_percent(clock: FakeClock) -> None:
    # Viewport 1000, deepest 1000 -> height 2000, 130 % = 2600.
    # Moves +1000, -500, +500, -300, +300 = exactly 2600: not above.
    exact = scrolls((1000, 1000), (2000, 500), (3000, 1000), (4000, 700), (5000, 1000))
    enricher = make_enricher(clock)
    assert signals(feed(enricher, page(height=1000), exact) + settle(enricher, clock)) == []
    # One more move up of 50 px: 5 changes, 2650 px > 2600.
    enricher = make_enricher(clock)
    more = [*exact, *scroll(6000, 950)]
    assert len(signals(feed(enricher, page(height=1000), more) + settle(enricher, clock))) == 1


def test_changes_spread_over_more_than_the_window_are_not_excessive(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(
        enricher,
        page(),
        scrolls((1000, 1000), (12_000, 200), (23_000, 1000), (34_000, 200), (45_000, 1000)),
    )
    assert signals(out + settle(enricher, clock)) == []


def test_scrolling_inside_an_element_is_not_page_scrolling(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(
        enricher,
        page(),
        scrolls((1000, 1000), (2000, 200), (3000, 1000), (4000, 200), (5000, 1000), node=57),
    )
    assert signals(out + settle(enricher, clock)) == []


def test_a_new_page_starts_over(enricher: SessionEnricher, clock: FakeClock) -> None:
    out = feed(
        enricher,
        page(),
        scrolls((1000, 1000), (2000, 200), (3000, 1000)),
        meta(3500, href="https://exos-demo.com/other.html"),
        full_snapshot(3501, top=0),
        scrolls((4000, 200), (5000, 1000)),
    )
    assert signals(out + settle(enricher, clock)) == []


def test_one_episode_is_one_signal(enricher: SessionEnricher, clock: FakeClock) -> None:
    positions = [(1000 + i * 500, 1000 if i % 2 == 0 else 200) for i in range(7)]
    out = feed(enricher, page(), scrolls(*positions))
    # 7 moves, 6 changes: the signal fires at the 5th move and the episode restarts.
    assert len(signals(out + settle(enricher, clock), "excessive_scroll")) == 1


def test_a_client_sent_excessive_scroll_is_not_doubled(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(
        enricher,
        client_signal("excessive_scroll", 4800),
        page(),
        scrolls((1000, 1000), (2000, 200), (3000, 1000), (4000, 200), (5000, 1000)),
    )
    assert signals(out + settle(enricher, clock)) == []
