"""Sessions from the `replay_sessions` summary (migrations 0020, 0021): the list with
its filters and sorts, and one session's summary. Never reads the raw tables.

The list runs in two steps: the page's session ids from the cheap columns (sums, min,
max: what the filters and sorts need), then every figure merged for those ids only.
Merging the states (distinct pages and clicks, the latest identity) of every session
cost ~20x the cheap columns for 5,000 sessions (bench/bench_replay.py). The identity
states are merged for all sessions only when the `user` filter asks for them.

Filters are fixed SQL fragments switched on by the request; every value is bound as a
`{name:Type}` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from exos_common.store import Store

Sort = Literal["recency", "frustration"]

# One row per session: the -Merge of every partial row the two views wrote.
MERGED = """
SELECT
    SessionId AS session_id,
    max(ServiceName) AS service_name,
    toUnixTimestamp64Nano(min(FirstSpan)) AS first_span_ns,
    toUnixTimestamp64Nano(max(LastSpan)) AS last_span_ns,
    toUnixTimestamp64Nano(min(ReplayFirst)) AS replay_first_ns,
    toUnixTimestamp64Nano(max(ReplayLast)) AS replay_last_ns,
    least(coalesce(first_span_ns, replay_first_ns), coalesce(replay_first_ns, first_span_ns))
        AS started_ns,
    greatest(coalesce(last_span_ns, replay_last_ns), coalesce(replay_last_ns, last_span_ns))
        AS ended_ns,
    (ended_ns - started_ns) / 1e6 AS duration_ms,
    sum(Spans) AS spans,
    sum(PageViews) AS page_views,
    uniqExactMerge(Pages) AS pages,
    argMinMerge(EntryPage) AS entry_page,
    uniqExactMerge(Clicks) AS clicks,
    sum(Errors) AS errors,
    sum(RageClicks) AS rage_clicks,
    sum(DeadClicks) AS dead_clicks,
    sum(ExcessiveScrolls) AS excessive_scrolls,
    sum(QuickBacks) AS quick_backs,
    rage_clicks + dead_clicks + excessive_scrolls + quick_backs AS frustration,
    argMaxMerge(UserEmail) AS user_email,
    argMaxMerge(UserName) AS user_name,
    argMaxMerge(UserId) AS user_id,
    max(City) AS city,
    max(Region) AS region,
    max(Country) AS country,
    max(Browser) AS browser,
    max(Os) AS os,
    max(DeviceType) AS device_type,
    max(VisitorIp) AS visitor_ip,
    max(Returning) AS returning,
    max(VisitCount) AS visit_count,
    sum(ReplayChunks) AS replay_chunks,
    sum(ReplayBytes) AS replay_bytes,
    sum(ReplayEventsStarted) AS replay_events_started,
    sum(ReplayEventsComplete) AS replay_events,
    sum(ReplayChunksExpected) AS replay_chunks_expected,
    sum(FullSnapshots) AS full_snapshots,
    sum(MetaEvents) AS meta_events,
    max(Recorder) AS recorder
FROM replay_sessions
{where}
GROUP BY SessionId
"""

ONE_SESSION = MERGED.format(where="WHERE SessionId = {session:String}")

# Only where a session's rows are and where its replay starts: what the events, tabs and
# heatbar routes need (no -Merge of the string states, cheaper on every page request).
SESSION_WINDOW = """
SELECT
    SessionId AS session_id,
    toUnixTimestamp64Nano(min(FirstSpan)) AS first_span_ns,
    toUnixTimestamp64Nano(max(LastSpan)) AS last_span_ns,
    toUnixTimestamp64Nano(min(ReplayFirst)) AS replay_first_ns,
    toUnixTimestamp64Nano(max(ReplayLast)) AS replay_last_ns,
    least(coalesce(first_span_ns, replay_first_ns), coalesce(replay_first_ns, first_span_ns))
        AS started_ns,
    greatest(coalesce(last_span_ns, replay_last_ns), coalesce(replay_last_ns, last_span_ns))
        AS ended_ns,
    sum(ReplayChunks) AS replay_chunks
FROM replay_sessions
WHERE SessionId = {session:String}
GROUP BY SessionId
"""

FILTERS: dict[str, str] = {
    "user": "(positionCaseInsensitive(user_email, {user:String}) > 0"
    " OR positionCaseInsensitive(user_name, {user:String}) > 0 OR user_id = {user:String})",
    "city": "lower(city) = lower({city:String})",
    "country": "upper(country) = upper({country:String})",
    "returning": "returning = {returning:UInt8}",
    "has_rage_click": "(rage_clicks > 0) = {has_rage_click:Bool}",
    "has_dead_click": "(dead_clicks > 0) = {has_dead_click:Bool}",
    "has_errors": "(errors > 0) = {has_errors:Bool}",
    "has_recording": "(full_snapshots > 0) = {has_recording:Bool}",
    "min_duration_ms": "duration_ms >= {min_duration_ms:Float64}",
    "max_duration_ms": "duration_ms <= {max_duration_ms:Float64}",
    "since_ns": "ended_ns >= {since_ns:Int64}",
    "until_ns": "started_ns <= {until_ns:Int64}",
}
ORDER: dict[str, str] = {
    "recency": "started_ns DESC, session_id",
    "frustration": "frustration DESC, errors DESC, started_ns DESC, session_id",
}


# Step one: the figures filters and sorts use, per session.
PAGE_IDS = """
SELECT session_id, count() OVER () AS total FROM (
SELECT
    SessionId AS session_id,
    toUnixTimestamp64Nano(min(FirstSpan)) AS first_span_ns,
    toUnixTimestamp64Nano(max(LastSpan)) AS last_span_ns,
    toUnixTimestamp64Nano(min(ReplayFirst)) AS replay_first_ns,
    toUnixTimestamp64Nano(max(ReplayLast)) AS replay_last_ns,
    least(coalesce(first_span_ns, replay_first_ns), coalesce(replay_first_ns, first_span_ns))
        AS started_ns,
    greatest(coalesce(last_span_ns, replay_last_ns), coalesce(replay_last_ns, last_span_ns))
        AS ended_ns,
    (ended_ns - started_ns) / 1e6 AS duration_ms,
    sum(Errors) AS errors,
    sum(RageClicks) AS rage_clicks,
    sum(DeadClicks) AS dead_clicks,
    sum(ExcessiveScrolls) AS excessive_scrolls,
    sum(QuickBacks) AS quick_backs,
    rage_clicks + dead_clicks + excessive_scrolls + quick_backs AS frustration,
    max(City) AS city,
    max(Country) AS country,
    max(Returning) AS returning,
    sum(FullSnapshots) AS full_snapshots{identity}
FROM replay_sessions
WHERE SessionId != ''
GROUP BY SessionId
)
WHERE {where}
ORDER BY {order}
LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
"""
IDENTITY_COLUMNS = """,
    argMaxMerge(UserEmail) AS user_email,
    argMaxMerge(UserName) AS user_name,
    argMaxMerge(UserId) AS user_id"""

# Step two: every figure of the page's sessions.
PAGE_SESSIONS = MERGED.format(where="WHERE SessionId IN {ids:Array(String)}")


@dataclass(frozen=True, slots=True)
class ListQuery:
    sql: str
    parameters: dict[str, Any]


def list_query(filters: dict[str, Any], sort: Sort, limit: int, offset: int) -> ListQuery:
    """Step one's SQL: the filters that were given, the sort, the page."""
    given = {name: value for name, value in filters.items() if value is not None}
    unknown = set(given) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown filters {sorted(unknown)}")
    where = " AND ".join(FILTERS[name] for name in FILTERS if name in given) or "1"
    identity = IDENTITY_COLUMNS if "user" in given else ""
    sql = PAGE_IDS.format(identity=identity, where=where, order=ORDER[sort])
    return ListQuery(sql, {**given, "limit": limit, "offset": offset})


def page_sessions(store: Store, ids: list[str]) -> list[dict[str, Any]]:
    """Every figure of `ids`, in the order given."""
    rows = {r["session_id"]: r for r in store.query(PAGE_SESSIONS, {"ids": ids})}
    return [rows[i] for i in ids if i in rows]


def session_summary(store: Store, session_id: str) -> dict[str, Any] | None:
    rows = store.query(ONE_SESSION, {"session": session_id})
    return rows[0] if rows else None


def session_window(store: Store, session_id: str) -> dict[str, Any] | None:
    rows = store.query(SESSION_WINDOW, {"session": session_id})
    return rows[0] if rows else None
