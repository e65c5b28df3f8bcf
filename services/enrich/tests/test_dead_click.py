"""Dead click: no DOM change within 500 ms after a click, read from the session's replay."""

from __future__ import annotations

from enrich_testkit import (
    BUTTON,
    PAGE,
    FakeClock,
    click,
    client_signal,
    feed,
    full_snapshot,
    make_enricher,
    meta,
    mouse_move,
    mutation,
    ns,
    settle,
    signals,
    span,
)

from exos_enrich.enricher import SessionEnricher


def recording_started() -> list:
    return [*meta(0), *full_snapshot(1)]


def test_replay_first_click_without_mutation_is_dead(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, recording_started(), mutation(200), mouse_move(2000), click(1000))
    [dead] = signals(out + settle(enricher, clock), "dead_click")
    assert dead.timestamp_ns == ns(1000)
    assert dead.duration_ns == 500 * 1_000_000
    assert dead.attributes["target_xpath"] == BUTTON
    assert dead.attributes["target_element"] == "BUTTON"
    assert dead.attributes["location.href"] == PAGE
    assert dead.attributes["frustration.window_ms"] == "500"


def test_replay_first_click_with_mutation_is_not_dead(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, recording_started(), mutation(1300), mouse_move(2000), click(1000))
    assert signals(out + settle(enricher, clock)) == []


def test_click_first_then_replay_with_mutation_is_not_dead(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, recording_started(), click(1000), mutation(1450), mouse_move(1600))
    assert signals(out + settle(enricher, clock)) == []


def test_click_first_then_replay_without_mutation_is_dead(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, click(1000), recording_started(), mouse_move(1200), mouse_move(1600))
    out += feed(enricher, span("longtask", 2600))  # spans pass click + 500 ms + grace
    assert [s.timestamp_ns for s in signals(out, "dead_click")] == [ns(1000)]


def test_the_click_waits_until_replay_has_passed_the_window(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    feed(enricher, recording_started(), click(1000), mouse_move(1400))
    session = enricher.session(click(0)[0].session_id)
    assert session is not None and session.dead.pending == 1  # replay only up to +400 ms
    feed(enricher, mutation(1500), mouse_move(3000))  # a mutation at exactly +500 ms
    assert session.dead.pending == 0
    assert signals(settle(enricher, clock)) == []


def test_a_mutation_one_ms_after_the_window_does_not_save_the_click(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, recording_started(), click(1000), mutation(1501), mouse_move(3000))
    assert len(signals(out + settle(enricher, clock), "dead_click")) == 1


def test_a_new_page_counts_as_a_response(enricher: SessionEnricher, clock: FakeClock) -> None:
    out = feed(
        enricher,
        recording_started(),
        click(1000),
        meta(1300, href="https://exos-demo.com/next.html"),
        full_snapshot(1301),
        mouse_move(2000),
    )
    assert signals(out + settle(enricher, clock)) == []


def test_doubled_click_spans_make_one_dead_click(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, recording_started(), click(1000), mouse_move(3000))
    assert len(signals(out + settle(enricher, clock), "dead_click")) == 1


def test_without_replay_no_dead_click_is_claimed(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, click(1000), span("longtask", 5000))
    clock.advance(59)
    out += enricher.flush_expired()
    session = enricher.session(click(0)[0].session_id)
    assert session is not None and session.dead.pending == 1  # still waiting
    clock.advance(2)  # past EXOS_ENRICH_DEAD_CLICK_WAIT_S (60 s)
    out += enricher.flush_expired()
    assert signals(out) == []
    assert session.dead.pending == 0
    assert enricher.stats.dead_clicks_undecided == 1


def test_a_click_before_the_recording_started_is_not_judged(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(enricher, click(1000), meta(1200), full_snapshot(1201), mouse_move(3000))
    assert signals(out + settle(enricher, clock)) == []
    assert enricher.stats.dead_clicks_undecided == 1


def test_clicks_on_form_fields_are_not_judged(enricher: SessionEnricher, clock: FakeClock) -> None:
    out = feed(
        enricher,
        recording_started(),
        click(1000, xpath="//form/input[1]", element="INPUT"),
        mouse_move(3000),
    )
    assert signals(out + settle(enricher, clock)) == []


def test_a_chunked_mutation_is_reassembled_and_counts(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    big_mutation = mutation(1200, padding=3000, chunks=3, ordinal=7)
    assert len(big_mutation) == 3
    out = feed(enricher, recording_started(), click(1000), big_mutation, mouse_move(2000))
    assert signals(out + settle(enricher, clock)) == []
    assert enricher.stats.rrweb_events_dropped == 0


def test_a_chunked_mutation_missing_a_chunk_is_dropped(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    first, _lost, last = mutation(1200, padding=3000, chunks=3, ordinal=7)
    out = feed(enricher, recording_started(), click(1000), first, last, mouse_move(2000))
    assert len(signals(out + settle(enricher, clock), "dead_click")) == 1
    assert enricher.stats.rrweb_events_dropped >= 1


def test_a_client_sent_dead_click_is_not_doubled(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    out = feed(
        enricher,
        recording_started(),
        click(1000),
        client_signal("dead_click", 1500, target_xpath=BUTTON),
        mouse_move(3000),
    )
    out += settle(enricher, clock)
    assert signals(out) == []
    assert enricher.stats.signals_suppressed_by_client["dead_click"] == 1


def test_mutations_long_before_are_forgotten_but_recent_ones_kept(clock: FakeClock) -> None:
    enricher = make_enricher(clock, enrich_replay_history_s=10)
    out = feed(enricher, span("longtask", 40_000))  # the spans are at 40 s too
    out += feed(enricher, recording_started(), mutation(20_000), mouse_move(40_000))
    # 20 s behind both streams and history is 10 s: the click cannot be judged any more.
    out += feed(enricher, click(20_000))
    assert signals(out + settle(enricher, clock)) == []
    assert enricher.stats.dead_clicks_undecided == 1
    out = feed(enricher, mutation(40_100), mouse_move(41_000), click(40_000))
    assert signals(out + settle(enricher, clock)) == []


def test_history_waits_for_spans_that_lag_behind_the_replay(clock: FakeClock) -> None:
    """After a rebalance the new owner may read a session's replay backlog before its
    spans: the clicks that come later are still judged on the DOM changes after them."""
    enricher = make_enricher(clock, enrich_replay_history_s=10)
    out = feed(enricher, recording_started(), mutation(5_000), mouse_move(60_000))
    out += feed(enricher, click(20_000), click(5_000))
    [dead] = signals(out + settle(enricher, clock), "dead_click")
    assert dead.timestamp_ns == ns(20_000)  # the click at 5 s changed the page
    assert enricher.stats.dead_clicks_undecided == 0


def test_mutation_stamped_just_before_the_sub_millisecond_click_is_not_dead(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    # Seen in Chromium: click span at ...101.4 ms (performance.now), the mutation it
    # caused stamped ...101 ms (Date.now, whole milliseconds).
    out = feed(enricher, recording_started(), click(1000.4), mutation(1000), mouse_move(1600))
    assert signals(out + settle(enricher, clock)) == []


def test_doubled_spans_a_millisecond_apart_are_one_dead_click(
    enricher: SessionEnricher, clock: FakeClock
) -> None:
    first, second = click(1000)[0], click(1001)[1]  # the SDK's pair, 1 ms apart
    out = feed(enricher, recording_started(), [first, second], mouse_move(1700))
    assert len(signals(out + settle(enricher, clock), "dead_click")) == 1
