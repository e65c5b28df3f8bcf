"""Pieces of SQL and shaping shared by the analytics and site health queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exos_query_api.runner import SessionMoment

PAGE_VIEW_SPANS = "('documentLoad', 'routeChange')"
HTTP_SPANS = "SpanName LIKE 'HTTP %'"
# A call failed: an HTTP error status, or no status at all and an error span (network
# failure, CORS, abort).
FAILED_CALL = "(HttpStatus >= 400 OR (HttpStatus = 0 AND IsError = 1))"

# One row per session from the rollup (partial rows of a session merged here).
SESSIONS = """
SELECT ServiceName, SessionId,
       min(Started) AS Started, max(Ended) AS Ended,
       sum(Spans) AS Spans, sum(PageViews) AS PageViews, sum(Errors) AS Errors,
       max(VisitorId) AS VisitorId, max(Browser) AS Browser, max(Os) AS Os,
       max(DeviceType) AS DeviceType, max(Country) AS Country, max(City) AS City,
       if(VisitorId != '', VisitorId, SessionId) AS Visitor
FROM session_summary
GROUP BY ServiceName, SessionId
"""
SESSION_TIME = "Started >= {start:DateTime64(9)} AND Started < {end:DateTime64(9)}"


def samples_of(session: str, moment: str, condition: str | None = None) -> str:
    """SQL of up to 5 (session, moment) pairs, earliest first (ties by session id): the
    5 smallest of the group kept while scanning, never the whole group sorted."""
    smallest = (
        f"groupArraySortedIf(5)(({moment}, {session}), {condition})"
        if condition
        else f"groupArraySorted(5)(({moment}, {session}))"
    )
    return f"arrayMap(x -> (x.2, x.1), {smallest})"


def moments(pairs: Any) -> list[SessionMoment]:
    """`[(session_id, at), ...]` rows -> SessionMoments."""
    return [SessionMoment(session_id=str(s), at=_as_datetime(at)) for s, at in pairs or []]


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def ms(value: Any) -> float:
    """Nanoseconds -> milliseconds, rounded for display."""
    return round(float(value or 0) / 1e6, 3)
