"""The SQL of the process-mining views, as named constants over the `log` CTE of
`eventlog` (columns case_id, activity, ts, session_id, segment). `/*CONDITIONS*/`,
`/*PATTERN*/` and `/*MS*/` are filled by `views.fill` (generated from a step count,
never from user text); every value is a bound `{name:Type}` parameter.
Samples are `(time, session, case)` tuples chosen deterministically (earliest, or
slowest, first), so the portal can open the replay at that moment.
"""

from __future__ import annotations

# Activities a caller may name in steps / paths / loops.
ORDER_ACTIVITIES = """
SELECT DISTINCT Activity AS activity FROM process_events WHERE OrderId != '' ORDER BY activity
"""
LOG_ACTIVITIES = "SELECT DISTINCT activity FROM log ORDER BY activity"

# Variants (groupArray + cityHash64): a case's activities in time order; cases with the
# same path share a variant. topK gives the segments (LOB / service) a variant is most
# common in. The window sums give the totals the narrative needs in the same pass.
VARIANT_CASES_CTE = """cases AS (
    SELECT case_id,
        arrayMap(e -> e.2, arraySort(groupArray((ts, activity)))) AS path,
        cityHash64(path) AS variant,
        min(ts) AS started,
        dateDiff('millisecond', min(ts), max(ts)) / 1000 AS duration_s,
        argMin(session_id, ts) AS first_session,
        max(segment) AS segment
    FROM log GROUP BY case_id
)"""
VARIANTS = """
SELECT toString(variant) AS variant,
    any(path) AS path,
    count() AS cases,
    avg(duration_s) AS avg_duration_s,
    quantile(0.5)(duration_s) AS p50_duration_s,
    topK(3)(segment) AS top_segments,
    groupArraySorted({samples:UInt8})((started, first_session, case_id)) AS samples,
    sum(count()) OVER () AS total_cases,
    count() OVER () AS total_variants
FROM cases
GROUP BY variant
ORDER BY cases DESC, variant
LIMIT {limit:UInt32}
"""

# Transitions (lagInFrame): each event with the one before it in its case.
TRANSITIONS_CTE = """transitions AS (
    SELECT case_id, step_from, step_to, from_ts, ts,
        dateDiff('millisecond', from_ts, ts) / 1000 AS gap_s
    FROM (
        SELECT case_id, activity AS step_to, ts,
            lagInFrame(activity, 1, '') OVER w AS step_from,
            lagInFrame(ts, 1, ts) OVER w AS from_ts,
            row_number() OVER w AS nth
        FROM log
        WINDOW w AS (PARTITION BY case_id ORDER BY ts, activity
                     ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    )
    WHERE nth > 1
)"""

# Bottlenecks: the slowest transitions by p95, each with its slowest instances as
# (-gap, ns of the event that ended the wait, case, ns of the one before); their
# sessions come from SESSIONS_AT (carrying session ids through the window costs more
# than the rest of the query).
BOTTLENECKS = """
SELECT step_from, step_to,
    count() AS transitions,
    uniqExact(case_id) AS cases,
    avg(gap_s) AS avg_s,
    quantile(0.5)(gap_s) AS p50_s,
    quantile(0.95)(gap_s) AS p95_s,
    max(gap_s) AS max_s,
    groupArraySorted({samples:UInt8})(
        (-gap_s, toUnixTimestamp64Nano(ts), case_id, toUnixTimestamp64Nano(from_ts))) AS samples
FROM transitions
GROUP BY step_from, step_to
HAVING transitions >= {min_transitions:UInt32}
ORDER BY p95_s DESC, step_from, step_to
LIMIT {limit:UInt32}
"""

# The session of each sampled event of an order (case, exact time in ns).
SESSIONS_AT = """
SELECT OrderId AS case_id, toUnixTimestamp64Nano(Timestamp) AS ns, SessionId AS session_id
FROM process_events
WHERE OrderId IN {cases:Array(String)} AND toUnixTimestamp64Nano(Timestamp) IN {nanos:Array(Int64)}
"""

# Process map (directly-follows graph): nodes with the cases starting and ending there
# (one pass over each case's trace), then the edges.
MAP_NODES = """
SELECT a.1 AS activity, sum(a.2) AS events, count() AS cases,
    countIf(a.1 = first_activity) AS starts, countIf(a.1 = last_activity) AS ends
FROM (
    SELECT arrayMap(e -> e.2, arraySort(groupArray((ts, activity)))) AS trace,
        trace[1] AS first_activity, trace[-1] AS last_activity,
        arrayMap(x -> (x, countEqual(trace, x)), arrayDistinct(trace)) AS counts
    FROM log GROUP BY case_id
)
ARRAY JOIN counts AS a
GROUP BY activity
ORDER BY events DESC, activity
"""
MAP_EDGES = """
SELECT step_from, step_to,
    count() AS frequency,
    uniqExact(case_id) AS cases,
    quantile(0.5)(gap_s) AS p50_s,
    quantile(0.95)(gap_s) AS p95_s
FROM transitions
GROUP BY step_from, step_to
HAVING frequency >= {min_frequency:UInt32}
ORDER BY frequency DESC, step_from, step_to
LIMIT {limit:UInt32}
"""

# Funnel (windowFunnel): the furthest step each case reached in order within the window,
# and when it did the step it stopped at (the last occurrence of that step).
FUNNEL_CASES_CTE = """cases AS (
    SELECT case_id,
        windowFunnel({window_ms:UInt64})(/*MS*/, /*CONDITIONS*/) AS level,
        groupArrayIf((ts, session_id, activity), has({steps:Array(String)}, activity)) AS events
    FROM log GROUP BY case_id
)"""
FUNNEL = """
SELECT level, count() AS cases,
    arraySlice(arraySort(groupArray(
        (arrayLast(e -> e.3 = {steps:Array(String)}[level], events).1,
         arrayLast(e -> e.3 = {steps:Array(String)}[level], events).2, case_id))),
        1, {samples:UInt8}) AS samples
FROM cases
WHERE level > 0
GROUP BY level
ORDER BY level
"""

# Conformance (sequenceMatch): does the case run the path's steps in order, with no other
# path step in between? Non-conforming cases grouped by how far they got in order
# (windowFunnel over the whole range), with sample cases to locate the deviation.
CONFORMANCE_CASES_CTE = """cases AS (
    SELECT case_id,
        sequenceMatch('/*PATTERN*/')(/*MS*/, /*CONDITIONS*/) AS conforming,
        windowFunnel(toUInt64(34560000000))(/*MS*/, /*CONDITIONS*/) AS reached
    FROM log GROUP BY case_id
)"""
CONFORMANCE = """
SELECT conforming, reached, count() AS cases,
    groupArraySorted({samples:UInt8})(case_id) AS sample_cases
FROM cases
GROUP BY conforming, reached
ORDER BY conforming DESC, cases DESC, reached
"""
# The traces of the sample cases, to find each one's deviating event.
CASE_TRACES = """
SELECT case_id, activity, ts, session_id FROM log
WHERE case_id IN {cases:Array(String)}
ORDER BY case_id, ts, activity
"""

# Rework. `loop` mode (sequenceCount): how often each case ran the loop's steps in order;
# the moments are its occurrences of the loop's last step. `revisits` mode (pages):
# returns to an activity the case did before; the moments are the returns.
REWORK_LOOP_CASES_CTE = """per_case AS (
    SELECT case_id,
        sequenceCount('/*PATTERN*/')(/*MS*/, /*CONDITIONS*/) AS loops,
        arraySort(groupArrayIf((ts, session_id, activity),
            activity = {loop:Array(String)}[length({loop:Array(String)})])) AS moments
    FROM log GROUP BY case_id
)"""
REWORK_REVISIT_CASES_CTE = """visits AS (
    SELECT case_id, activity, ts, session_id,
        row_number() OVER (PARTITION BY case_id, activity ORDER BY ts) AS nth
    FROM log
),
per_case AS (
    SELECT case_id, countIf(nth > 1) AS loops,
        arraySort(groupArrayIf((ts, session_id, activity), nth > 1)) AS moments
    FROM visits GROUP BY case_id
)"""
# Everything in one pass over per_case: the loops distribution (sumMap), the cases with
# most loops (groupArraySorted: loops desc, case id), the activities returned to.
REWORK = """
SELECT count() AS cases_total,
    sumMap([loops], [toUInt64(1)]) AS distribution,
    groupArraySortedIf({limit:UInt32})(
        (-loops, case_id, arraySlice(moments, 1, {samples:UInt8})), loops > 0) AS top,
    sumMap(arrayMap(m -> m.3, moments), arrayMap(m -> toUInt64(1), moments)) AS by_activity
FROM per_case
"""
