# ruff: noqa: E501  (the SQL is kept verbatim, long lines included)
"""The reference example SQL the platform was specified with, verbatim (Data
Architecture, Query Cookbook, Process Mining SQL Examples, Object-Centric Process
Mining), as named constants. The demo data set is made so that each of them returns rows; the all-in-one
test runs them all. `SEED_QUERIES` maps each name to (its section of the reference set, the
views it feeds, the SQL).

One of them cannot run verbatim on what the real HyperDX SDK sends: `WEB_VITALS_BY_PAGE`
reads `toFloat64(SpanAttributes['lcp'])` and `['fid']` from every `webvitals` span, but
the SDK sends one metric per span, so the other key is missing (`''`) and `toFloat64('')`
is an error in ClickHouse ("Cannot parse Float64 from String").
`WEB_VITALS_BY_PAGE_SDK` is the same query with `toFloat64OrNull` (avg skips NULLs).

And one returns no rows on any data: in `OBJECT_INTERACTION`, ClickHouse evaluates the
two identical `arrayJoin(categories)` once (one expression, one join), so `c1 = c2` on
every row and `WHERE c1 < c2` keeps nothing. `OBJECT_INTERACTION_PAIRS` builds the
category pairs explicitly and answers what the query means to ask.
"""

from __future__ import annotations

# Data Architecture, otel_traces example: spans by SpanName (the taxonomy).
# Feeds: Operator Patterns, Order Lifecycle, Product Analytics, Session Replay drill-down tabs.
SPAN_NAME_COUNTS = """SELECT SpanName, count() as cnt FROM otel_traces WHERE Timestamp >= now() - INTERVAL 7 DAY GROUP BY SpanName ORDER BY cnt DESC LIMIT 20"""

# Data Architecture, hyperdx_sessions example: recent sessions with replay.
# Feeds: Session Replay player, activity heatbar.
REPLAY_SESSIONS = """SELECT session_id, count() as batches, min(timestamp) as started FROM hyperdx_sessions WHERE timestamp >= now() - INTERVAL 7 DAY GROUP BY session_id ORDER BY started DESC LIMIT 10"""

# Data Architecture, otel_logs example: console output by severity.
# Feeds: Session Replay Console tab, Site Health error groups.
LOG_SEVERITIES = """SELECT SeverityText, count() as cnt FROM otel_logs WHERE Timestamp >= now() - INTERVAL 7 DAY GROUP BY SeverityText ORDER BY cnt DESC"""

# Query Cookbook: sessions with rage clicks.
# Feeds: Sessions list (frustration filter).
RAGE_CLICK_SESSIONS = """SELECT ResourceAttributes['rum.sessionId'] as session_id, count() as rage_count FROM otel_traces WHERE SpanName = 'rage_click' GROUP BY session_id ORDER BY rage_count DESC"""

# Query Cookbook: slowest HTTP requests.
# Feeds: Site Health HTTP monitoring.
SLOWEST_HTTP = """SELECT SpanAttributes['http.url'] as url, avg(Duration) / 1e6 as avg_ms, count() as calls
FROM otel_traces WHERE SpanName IN ('HTTP POST', 'HTTP GET')
GROUP BY url ORDER BY avg_ms DESC LIMIT 10"""

# Query Cookbook: sessions from returning visitors in Chicago.
# Feeds: Sessions list (visitor filters).
RETURNING_CHICAGO_SESSIONS = """SELECT DISTINCT ResourceAttributes['rum.sessionId'] as session_id FROM otel_traces WHERE SpanAttributes['visitor.city'] = 'Chicago' AND SpanAttributes['visitor.returning'] = 'true'"""

# Query Cookbook: Web Vitals by page.
# Feeds: Site Health Web Vitals.
WEB_VITALS_BY_PAGE = """SELECT SpanAttributes['location.href'] as page,
avg(toFloat64(SpanAttributes['lcp'])) as avg_lcp_ms,
avg(toFloat64(SpanAttributes['fid'])) as avg_fid_ms
FROM otel_traces WHERE SpanName = 'webvitals'
GROUP BY page ORDER BY avg_lcp_ms DESC"""

# Query Cookbook: console errors by session.
# Feeds: Site Health console errors, Session Replay Errors tab.
CONSOLE_ERRORS_BY_SESSION = """SELECT ResourceAttributes['rum.sessionId'] as session_id, count() as error_count,
groupArray(10)(Body) as sample_messages
FROM otel_logs WHERE SeverityText = 'error'
GROUP BY session_id ORDER BY error_count DESC LIMIT 10"""

# Process Mining: conformance check (sequenceMatch).
# Feeds: Order Lifecycle conformance.
CONFORMANCE = """SELECT countIf(matched) as conforming, count() as total,
round(conforming / total * 100, 1) as conformance_pct
FROM (
SELECT SpanAttributes['order.id'] as order_id,
sequenceMatch('(?1)(?2)(?3)')(toDateTime(Timestamp),
SpanName = 'email.received', SpanName = 'review.started',
SpanName = 'report.submitted') as matched
FROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY order_id
)"""

# Process Mining: rework detection (sequenceCount).
# Feeds: Order Lifecycle rework.
REWORK = """SELECT SpanAttributes['order.id'] as order_id,
sequenceCount('(?1)(?2)')(toDateTime(Timestamp),
SpanName = 'review.started', SpanName = 'revision.requested') as rework_loops
FROM otel_traces WHERE SpanAttributes['order.id'] != ''
GROUP BY order_id HAVING rework_loops > 0 ORDER BY rework_loops DESC"""

# Process Mining: transition bottlenecks (lagInFrame, quantile).
# Feeds: Order Lifecycle bottlenecks.
TRANSITION_BOTTLENECKS = """SELECT step_from, step_to, round(avg(gap_hours), 1) as avg_hours,
round(quantile(0.95)(gap_hours), 1) as p95_hours
FROM (
SELECT SpanName as step_to,
lagInFrame(SpanName) OVER (PARTITION BY SpanAttributes['order.id'] ORDER BY Timestamp) as step_from,
dateDiff('hour', lagInFrame(Timestamp) OVER (PARTITION BY SpanAttributes['order.id'] ORDER BY Timestamp), Timestamp) as gap_hours
FROM otel_traces WHERE SpanAttributes['order.id'] != ''
) WHERE step_from != '' GROUP BY step_from, step_to ORDER BY p95_hours DESC LIMIT 10"""

# Object-Centric Process Mining: object interaction query (arrayJoin).
# Feeds: OCPM object-interaction graph.
OBJECT_INTERACTION = """SELECT c1 AS category_a, c2 AS category_b,
count() AS co_occurrence_count
FROM (
SELECT oid,
arrayJoin(categories) AS c1,
arrayJoin(categories) AS c2
FROM (
SELECT SpanAttributes['order.id'] AS oid,
arrayDistinct(groupArray(
CASE WHEN SpanName LIKE 'email.%' THEN 'Communication'
WHEN SpanName LIKE 'page.%' THEN 'Portal'
WHEN SpanName LIKE 'action.%' THEN 'System Action'
END
)) AS categories
FROM otel_traces
WHERE SpanAttributes['order.id'] != ''
GROUP BY oid
HAVING length(categories) >= 2
)
) WHERE c1 < c2
GROUP BY c1, c2
ORDER BY co_occurrence_count DESC"""

WEB_VITALS_BY_PAGE_SDK = WEB_VITALS_BY_PAGE.replace("toFloat64(", "toFloat64OrNull(")

OBJECT_INTERACTION_PAIRS = OBJECT_INTERACTION.replace(
    """SELECT oid,
arrayJoin(categories) AS c1,
arrayJoin(categories) AS c2
FROM (""",
    """SELECT oid,
arrayJoin(arrayFlatten(arrayMap(a -> arrayMap(b -> (a, b), categories), categories))) AS pair,
pair.1 AS c1,
pair.2 AS c2
FROM (""",
)
assert OBJECT_INTERACTION_PAIRS != OBJECT_INTERACTION

SEED_QUERIES: dict[str, tuple[str, str, str]] = {
    "SPAN_NAME_COUNTS": (
        "Data Architecture, otel_traces example: spans by SpanName (the taxonomy).",
        "Operator Patterns, Order Lifecycle, Product Analytics, Session Replay drill-down tabs",
        SPAN_NAME_COUNTS,
    ),
    "REPLAY_SESSIONS": (
        "Data Architecture, hyperdx_sessions example: recent sessions with replay.",
        "Session Replay player, activity heatbar",
        REPLAY_SESSIONS,
    ),
    "LOG_SEVERITIES": (
        "Data Architecture, otel_logs example: console output by severity.",
        "Session Replay Console tab, Site Health error groups",
        LOG_SEVERITIES,
    ),
    "RAGE_CLICK_SESSIONS": (
        "Query Cookbook: sessions with rage clicks.",
        "Sessions list (frustration filter)",
        RAGE_CLICK_SESSIONS,
    ),
    "SLOWEST_HTTP": (
        "Query Cookbook: slowest HTTP requests.",
        "Site Health HTTP monitoring",
        SLOWEST_HTTP,
    ),
    "RETURNING_CHICAGO_SESSIONS": (
        "Query Cookbook: sessions from returning visitors in Chicago.",
        "Sessions list (visitor filters)",
        RETURNING_CHICAGO_SESSIONS,
    ),
    "WEB_VITALS_BY_PAGE": (
        "Query Cookbook: Web Vitals by page.",
        "Site Health Web Vitals",
        WEB_VITALS_BY_PAGE,
    ),
    "CONSOLE_ERRORS_BY_SESSION": (
        "Query Cookbook: console errors by session.",
        "Site Health console errors, Session Replay Errors tab",
        CONSOLE_ERRORS_BY_SESSION,
    ),
    "CONFORMANCE": (
        "Process Mining: conformance check (sequenceMatch).",
        "Order Lifecycle conformance",
        CONFORMANCE,
    ),
    "REWORK": (
        "Process Mining: rework detection (sequenceCount).",
        "Order Lifecycle rework",
        REWORK,
    ),
    "TRANSITION_BOTTLENECKS": (
        "Process Mining: transition bottlenecks (lagInFrame, quantile).",
        "Order Lifecycle bottlenecks",
        TRANSITION_BOTTLENECKS,
    ),
    "OBJECT_INTERACTION": (
        "Object-Centric Process Mining: object interaction query (arrayJoin).",
        "OCPM object-interaction graph",
        OBJECT_INTERACTION,
    ),
}
