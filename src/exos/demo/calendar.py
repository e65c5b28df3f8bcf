"""Time in the demo world: nanoseconds since the epoch (UTC) everywhere, local business
days where people work. The company runs on Central time; operators keep their own
office hours in their own time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
NS_PER_HOUR = 60 * NS_PER_MIN
NS_PER_DAY = 24 * NS_PER_HOUR

COMPANY_TZ = ZoneInfo("America/Chicago")
WINDOW_DAYS = 14  # the data covers this many days up to the anchor (tables keep 30)


def default_anchor(now: datetime | None = None) -> datetime:
    """The end of the demo's time range: now, floored to the hour, so a reload within
    the hour sends byte-identical requests."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def days_past_retention(
    anchor: datetime, retention_days: int, now: datetime | None = None
) -> float:
    """How many days at the start of the demo range ending at `anchor` are already older
    than `retention_days`: the tables' TTL drops such rows as they are inserted."""
    now = now or datetime.now(UTC)
    oldest_kept = now - timedelta(days=retention_days)
    start = anchor - timedelta(days=WINDOW_DAYS)
    return max((oldest_kept - start).total_seconds() / 86_400, 0.0)


def to_ns(moment: datetime) -> int:
    """Exact nanoseconds of an aware datetime (no float rounding)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)


def local_ns(day: date, hour: float, zone: ZoneInfo) -> int:
    """`hour` (fractional) o'clock on `day` in `zone`, as epoch ns."""
    minutes = round(hour * 60)
    moment = datetime.combine(day, time(0, 0), tzinfo=zone) + timedelta(minutes=minutes)
    return to_ns(moment)


def local_day(ns: int, zone: ZoneInfo = COMPANY_TZ) -> date:
    return from_ns(ns).astimezone(zone).date()


def local_hour(ns: int, zone: ZoneInfo = COMPANY_TZ) -> float:
    moment = from_ns(ns).astimezone(zone)
    return moment.hour + moment.minute / 60


def business_days(start_ns: int, end_ns: int, zone: ZoneInfo = COMPANY_TZ) -> Iterator[date]:
    """Monday to Friday dates in `zone` touched by [start, end]."""
    day, last = local_day(start_ns, zone), local_day(end_ns, zone)
    while day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def iso_ms(ns: int) -> str:
    return from_ns(ns).isoformat(timespec="milliseconds").replace("+00:00", "Z")
