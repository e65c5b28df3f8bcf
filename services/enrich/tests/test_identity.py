"""Identity: user.* and HyperDX's userEmail/... seen on a span carry forward in time to
later spans and logs of the session, never backwards, never over a record's own value."""

from __future__ import annotations

from enrich_testkit import SESSION, FakeClock, click, feed, log, settle, signals, span

from exos_enrich.enricher import SessionEnricher

SIGNED_IN = {
    "user.email": "ann@example.com",
    "user.name": "Ann Operator",
    "user.uid": "u-123",
    "userEmail": "ann@example.com",
    "teamId": "t-9",
    "teamName": "Closing",
}


def test_identity_goes_to_later_spans_and_logs_only(enricher: SessionEnricher) -> None:
    before = span("documentLoad", 0)
    sign_in = span("custom.signin", 1_000, attributes=dict(SIGNED_IN))
    after = span("click", 2_000)
    later_log = log(3_000)
    late_early_log = log(500)  # arrives after sign-in but happened before it
    feed(enricher, before, sign_in, after, later_log, late_early_log)
    assert "user.email" not in before.attributes
    for record in (after, later_log):
        assert {k: record.attributes[k] for k in SIGNED_IN} == SIGNED_IN
    assert "user.email" not in late_early_log.attributes


def test_a_records_own_identity_is_kept(enricher: SessionEnricher) -> None:
    feed(enricher, span("signin", 0, attributes={"user.email": "ann@example.com"}))
    other = span("click", 10, attributes={"user.email": "bob@example.com"})
    feed(enricher, other)
    assert other.attributes["user.email"] == "bob@example.com"


def test_a_new_sign_in_replaces_the_identity_from_then_on(enricher: SessionEnricher) -> None:
    feed(
        enricher,
        span("signin", 0, attributes={"user.email": "ann@example.com"}),
        span("signin", 5_000, attributes={"user.email": "bob@example.com"}),
    )
    later = span("click", 6_000)
    feed(enricher, later)
    assert later.attributes["user.email"] == "bob@example.com"


def test_identity_stays_in_its_session(enricher: SessionEnricher) -> None:
    feed(enricher, span("signin", 0, attributes=dict(SIGNED_IN)))
    elsewhere = span("click", 1_000, session="another-session")
    feed(enricher, elsewhere)
    assert "user.email" not in elsewhere.attributes


def test_signals_carry_the_identity(enricher: SessionEnricher, clock: FakeClock) -> None:
    out = feed(enricher, span("signin", 0, attributes=dict(SIGNED_IN)))
    out += feed(enricher, *[click(1_000 + 100 * i) for i in range(5)])
    [rage] = signals(out + settle(enricher, clock))
    assert rage.attributes["user.email"] == "ann@example.com"
    assert rage.session_id == SESSION


def test_logs_of_unknown_sessions_pass_through(enricher: SessionEnricher) -> None:
    record = log(0, session="never-seen")
    assert enricher.process(record) == [record]
    assert "never-seen" not in enricher.session_ids()
