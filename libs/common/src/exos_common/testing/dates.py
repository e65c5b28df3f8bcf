"""Dates for test data that never age out of the tables' retention.

The tables drop rows older than their TTL (30 days by default) as they are inserted, so
test data written at a fixed calendar date passes the day it is written and fails a few
weeks later. Every test that stores rows takes its moments from here instead: relative
to the day the test session started, with the weekday structure the worlds rely on
(a Monday for weekly worlds, a Friday morning in Chicago for the demo).

`today` parameters exist so `tests/test_dates_guard.py` can check every run date of the
coming years without faking the clock; tests use the module constants.
`EXOS_TEST_SHIFT_DAYS` moves the day the session counts from: the guard runs the worlds'
suites as if they ran that many days later, to show their expected values depend on
offsets, not on the calendar.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

# Weekly worlds start this many weeks before the current week's Monday: far enough back
# that two weeks of data and a few days after them are in the past, near enough that the
# oldest row (at most 27 days and 15 hours old) is inside a 30-day retention.
WORLD_WEEKS_BACK = 3

# The demo anchor's hour in UTC on a Friday: 11:00 in Chicago in winter, 12:00 in summer,
# so the last hours of the demo range are office hours.
DEMO_ANCHOR_HOUR_UTC = 17
FRIDAY = 4


SHIFT_ENV = "EXOS_TEST_SHIFT_DAYS"


def session_now() -> datetime:
    return datetime.now(UTC) + timedelta(days=int(os.environ.get(SHIFT_ENV) or 0))


def world_monday(today: date | None = None) -> datetime:
    """00:00 UTC (naive, as the worlds use it) of the Monday `WORLD_WEEKS_BACK` weeks
    before the Monday of `today`'s week."""
    today = today or session_now().date()
    monday = today - timedelta(days=today.weekday() + 7 * WORLD_WEEKS_BACK)
    return datetime(monday.year, monday.month, monday.day)


def demo_anchor(now: datetime | None = None) -> datetime:
    """The latest Friday at `DEMO_ANCHOR_HOUR_UTC`:00 UTC strictly before `now`: the demo
    world covers the 14 days up to it, so queries over the last 7 days see its end."""
    now = (now or session_now()).astimezone(UTC)
    anchor = now.replace(hour=DEMO_ANCHOR_HOUR_UTC, minute=0, second=0, microsecond=0)
    anchor -= timedelta(days=(now.weekday() - FRIDAY) % 7)
    if anchor >= now:
        anchor -= timedelta(days=7)
    return anchor


# Fixed once per test session, so a run across midnight keeps one calendar.
MONDAY = world_monday()
DEMO_ANCHOR = demo_anchor()


def on(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """`day` days after `MONDAY` (0 is that Monday) at the given UTC time, naive."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def iso(day: int, clock: str = "") -> str:
    """The date `day` days after `MONDAY` as ISO text, with `clock` after a `T` when
    given: `iso(7, "09:00:25")` is the second Monday at 09:00:25."""
    text = (MONDAY + timedelta(days=day)).date().isoformat()
    return f"{text}T{clock}" if clock else text


def to_ns(moment: datetime) -> int:
    """Exact nanoseconds since the epoch of `moment` (naive means UTC), no float rounding."""
    delta = moment.replace(tzinfo=moment.tzinfo or UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
