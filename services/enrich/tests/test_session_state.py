"""Bounded state: idle sessions expire, an LRU caps the sessions tracked, per-session
buffers are capped, and the engine can drop sessions (rebalance)."""

from __future__ import annotations

import tracemalloc

from enrich_testkit import (
    FakeClock,
    click,
    feed,
    make_enricher,
    meta,
    mutation,
    signals,
    span,
    typical_session,
)


def test_idle_sessions_expire_after_the_idle_time(clock: FakeClock) -> None:
    enricher = make_enricher(clock, enrich_session_idle_s=1800)
    feed(enricher, span("documentLoad", 0, session="s1"))
    clock.advance(1000)
    feed(enricher, span("click", 1, session="s2"))
    clock.advance(799)
    assert enricher.flush_expired() == []
    assert enricher.session_ids() == ["s1", "s2"]
    clock.advance(1)  # s1 idle for exactly 1800 s
    enricher.flush_expired()
    assert enricher.session_ids() == ["s2"]
    assert enricher.stats.sessions_expired == 1
    clock.advance(1000)
    enricher.flush_expired()
    assert len(enricher) == 0


def test_an_expiring_session_publishes_its_open_burst(clock: FakeClock) -> None:
    enricher = make_enricher(clock, enrich_session_idle_s=5, enrich_signal_settle_s=60)
    feed(enricher, *[click(100 * i) for i in range(5)])
    clock.advance(5)
    assert [s.name for s in signals(enricher.flush_expired())] == ["rage_click"]


def test_the_least_recently_active_session_is_evicted_over_the_cap(clock: FakeClock) -> None:
    enricher = make_enricher(clock, enrich_max_sessions=2)
    feed(enricher, span("a", 0, session="s1"), span("a", 0, session="s2"))
    clock.advance(1)
    feed(enricher, span("a", 1, session="s1"))  # s1 is now the most recent
    clock.advance(1)
    feed(enricher, span("a", 2, session="s3"))
    assert enricher.session_ids() == ["s1", "s3"]
    assert enricher.stats.sessions_evicted == 1


def test_an_evicted_session_publishes_what_is_certain(clock: FakeClock) -> None:
    enricher = make_enricher(clock, enrich_max_sessions=1)
    feed(enricher, *[click(100 * i, session="s1") for i in range(5)])
    out = enricher.process(span("a", 0, session="s2"))
    assert [r.name for r in out] == ["a", "rage_click"]
    assert out[1].session_id == "s1"


def test_per_session_buffers_are_capped(clock: FakeClock) -> None:
    enricher = make_enricher(clock, enrich_session_buffer=8)
    feed(enricher, *[click(1_000 * i, xpath=f"//b[{i}]") for i in range(20)])
    session = enricher.session(click(0)[0].session_id)
    assert session is not None
    assert session.dead.pending == 8  # no replay yet: the oldest waiting clicks dropped
    assert enricher.stats.dead_clicks_undecided == 12
    feed(enricher, meta(0), *[mutation(10_000 * i + 5) for i in range(50)])
    assert len(session.dead.history) <= 8


def test_forget_drops_sessions_without_publishing(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    feed(enricher, *[click(100 * i, session="s1") for i in range(5)])
    feed(enricher, span("a", 0, session="s2"), span("a", 0, session="p3-x"))
    assert enricher.forget(["s1", "unknown"]) == 1
    assert enricher.forget_if(lambda sid: sid.startswith("p3-")) == 1
    assert enricher.session_ids() == ["s2"]
    clock.advance(3600)
    assert enricher.flush_expired() == []  # s1's burst went with it


def test_flush_expired_only_settles_sessions_with_open_work(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    feed(enricher, *[span("a", i, session=f"quiet-{i}") for i in range(100)])
    assert enricher._open == {}
    feed(enricher, click(0, session="busy"))
    assert list(enricher._open) == ["busy"]  # a click waiting for replay


def test_memory_per_session_is_a_few_kilobytes(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    for record in typical_session("warm-up"):  # one-time costs (regex caches) first
        enricher.process(record)
    batches = [typical_session(f"session-{n}") for n in range(200)]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for batch in batches:
        for record in batch:
            enricher.process(record)
    del batches
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_session = grown / 200
    print(f"~{per_session / 1024:.1f} KiB per session")
    assert per_session < 10 * 1024  # ~6 KiB on CPython 3.11


def test_records_without_a_session_pass_through_untouched(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    server_span = span("GET /orders", 0, session="", attributes={"user.email": "a@b.c"})
    other = span("GET /inbox", 10, session="")
    assert enricher.process(server_span) == [server_span]
    assert enricher.process(other) == [other]
    assert "user.email" not in other.attributes
    assert len(enricher) == 0
