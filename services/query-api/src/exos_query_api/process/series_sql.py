"""SQL of the per-event process views: the operator leaderboard and the anomaly series.
`/*EVENTS*/` is replaced by `eventlog.event_filter` (fixed clauses, bound values)."""

from __future__ import annotations

from exos_query_api.categories import ROUTINE_CATEGORIES, category_sql
from exos_query_api.process.eventlog import RANGE

_ROUTINE = (
    f"{category_sql('Activity')} IN ({', '.join(repr(c) for c in sorted(ROUTINE_CATEGORIES))})"
)

OPERATORS = f"""
SELECT OperatorId AS operator_id,
    any(OperatorName) AS name,
    any(OperatorRole) AS role,
    any(OperatorTeam) AS team,
    count() AS events,
    uniqExactIf(OrderId, OrderId != '') AS orders,
    uniqExact(SessionId) AS sessions,
    uniqExact(toDate(Timestamp, 'UTC')) AS active_days,
    countIf({_ROUTINE}) AS routine_events,
    sum(count()) OVER () AS all_events,
    count() OVER () AS all_operators
FROM process_events
WHERE OperatorId != '' AND {RANGE}/*EVENTS*/
GROUP BY OperatorId
ORDER BY events DESC, operator_id
LIMIT {{limit:UInt32}}
"""

OPERATOR_TASKS = f"""
SELECT OperatorId AS operator_id, Activity AS activity, count() AS events
FROM process_events
WHERE OperatorId IN {{operators:Array(String)}} AND {RANGE}/*EVENTS*/
GROUP BY operator_id, activity
ORDER BY operator_id, events DESC, activity
"""

# Anomaly series: the rows (ts, session_id) counted per bucket. Process series (from
# process_events) take the process filters; telemetry series (from span_facts, the
# analytics rollup of every span, migration 0015) only the service.
SERIES: dict[str, str] = {
    "orders": f"""SELECT Timestamp AS ts, SessionId AS session_id FROM process_events
        WHERE Activity = 'order.created' AND {RANGE}/*EVENTS*/""",
    "events": f"""SELECT Timestamp AS ts, SessionId AS session_id FROM process_events
        WHERE OrderId != '' AND {RANGE}/*EVENTS*/""",
    "activity": f"""SELECT Timestamp AS ts, SessionId AS session_id FROM process_events
        WHERE Activity = {{activity:String}} AND {RANGE}/*EVENTS*/""",
    "http_errors": f"""SELECT Timestamp AS ts, SessionId AS session_id FROM span_facts
        WHERE SpanName LIKE 'HTTP %' AND {RANGE}/*SERVICE*/
            AND (IsError = 1 OR HttpStatus >= 400)""",
    "rage_clicks": f"""SELECT Timestamp AS ts, SessionId AS session_id FROM span_facts
        WHERE SpanName = 'rage_click' AND {RANGE}/*SERVICE*/""",
    "errors": f"""SELECT Timestamp AS ts, SessionId AS session_id FROM span_facts
        WHERE IsError = 1 AND {RANGE}/*SERVICE*/""",
}
PROCESS_SERIES = frozenset({"orders", "events", "activity"})
# Where a series' data begins in the range: the buckets start there, so the days before
# the first data (no baseline, not a quiet spell) are not scored.
DATA_START = {
    "process_events": f"assumeNotNull((SELECT min(Timestamp) FROM process_events WHERE {RANGE}))",
    "span_facts": f"assumeNotNull((SELECT min(Timestamp) FROM span_facts WHERE {RANGE}))",
}

_BUCKET = "toStartOfInterval(toDateTime(ts, 'UTC'), toIntervalSecond({bucket_s:UInt32}))"

# Rolling z-score: each bucket from the start of the data in the range against the mean
# and standard deviation of the `window` buckets before it (empty buckets count as 0),
# scored once a whole window lies behind it.
# The deviation is floored at 1 (these are counts): a burst after a flat baseline (no
# errors all day, then 40) is the anomaly to catch, and a zero deviation would hide it.
ANOMALY_POINTS = f"""
WITH series AS (/*SERIES*/),
counts AS (
    SELECT {_BUCKET} AS bucket, count() AS value
    FROM series GROUP BY bucket
    ORDER BY bucket WITH FILL
        FROM toStartOfInterval(
            toDateTime(greatest({{start:DateTime64(9)}}, /*DATA_START*/), 'UTC'),
            toIntervalSecond({{bucket_s:UInt32}}))
        TO toDateTime({{end:DateTime64(9)}}, 'UTC')
        STEP {{bucket_s:UInt32}}
)
SELECT bucket, value, mean, sd, history,
    if(history >= {{baseline:UInt32}}, (value - mean) / greatest(sd, 1), 0) AS z
FROM (
    SELECT bucket, value,
        avg(value) OVER w AS mean,
        stddevPop(value) OVER w AS sd,
        count() OVER w AS history
    FROM counts
    WINDOW w AS (ORDER BY bucket ROWS BETWEEN {{baseline:UInt32}} PRECEDING AND 1 PRECEDING)
)
ORDER BY bucket
"""

# The sessions behind anomalous buckets: most events in the bucket first, each at its
# first event in the bucket.
ANOMALY_SESSIONS = f"""
WITH series AS (/*SERIES*/)
SELECT bucket,
    arraySlice(arraySort(groupArray((-events, first_ts, session_id))), 1, {{samples:UInt8}})
        AS samples
FROM (
    SELECT {_BUCKET} AS bucket, session_id, count() AS events, min(ts) AS first_ts
    FROM series WHERE session_id != ''
    GROUP BY bucket, session_id
)
WHERE bucket IN {{buckets:Array(DateTime('UTC'))}}
GROUP BY bucket
"""
