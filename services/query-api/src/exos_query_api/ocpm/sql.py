"""SQL of the object-centric views over `process_events` (migration 0010), as named
constants over the `ocel` CTE: every domain event with its category (one of eight,
by SpanName prefix; '' for none), order, vendor, operator and session. `/*CASES*/` is
`eventlog.case_filter` (fixed clauses, bound values)."""

from __future__ import annotations

from exos_query_api.categories import category_sql
from exos_query_api.process.eventlog import RANGE

OCEL_CTE = f"""ocel AS (
    SELECT OrderId AS order_id, Activity AS activity, {category_sql("Activity")} AS category,
        Timestamp AS ts, SessionId AS session_id, VendorId AS vendor_id,
        VendorName AS vendor_name, OperatorId AS operator_id
    FROM process_events
    WHERE {RANGE}/*CASES*/
)"""

CATEGORIES = """
SELECT category,
    count() AS events,
    uniqExactIf(order_id, order_id != '') AS orders,
    uniqExactIf(operator_id, operator_id != '') AS operators,
    uniqExact(session_id) AS sessions,
    arraySort(groupUniqArray(activity)) AS activities
FROM ocel
GROUP BY category
ORDER BY events DESC, category
"""

# The reference object-interaction query with the pairs built explicitly (two arrayJoin
# of the same array are one join in ClickHouse, so its `c1 < c2` never held; see
# OBJECT_INTERACTION_PAIRS in exos.demo.seed_queries), over all eight categories.
INTERACTIONS = """
SELECT pair.1 AS category_a, pair.2 AS category_b, count() AS orders
FROM (
    SELECT order_id, arrayDistinct(groupArrayIf(category, category != '')) AS categories
    FROM ocel
    WHERE order_id != ''
    GROUP BY order_id
    HAVING length(categories) >= 2
)
ARRAY JOIN arrayFilter(p -> p.1 < p.2,
    arrayFlatten(arrayMap(a -> arrayMap(b -> (a, b), categories), categories))) AS pair
GROUP BY category_a, category_b
ORDER BY orders DESC, category_a, category_b
"""

# Orders with two categories or more (what the interaction shares are of).
MULTI_CATEGORY_ORDERS = """
SELECT count() AS orders
FROM (SELECT order_id FROM ocel WHERE order_id != '' AND category != ''
      GROUP BY order_id HAVING uniqExact(category) >= 2)
"""

# Cross-category handoffs (lagInFrame): consecutive categorised events of an order whose
# category changes, with the slowest instances (sessions looked up after, as for the
# process bottlenecks).
HANDOFFS = """
SELECT from_category, to_category,
    count() AS handoffs,
    uniqExact(order_id) AS orders,
    avg(gap_s) AS avg_s,
    quantile(0.5)(gap_s) AS p50_s,
    quantile(0.95)(gap_s) AS p95_s,
    groupArraySorted({samples:UInt8})(
        (-gap_s, toUnixTimestamp64Nano(ts), order_id, toUnixTimestamp64Nano(from_ts))) AS samples
FROM (
    SELECT order_id, to_category, ts, from_category, from_ts, nth,
        dateDiff('millisecond', from_ts, ts) / 1000 AS gap_s
    FROM (
        SELECT order_id, category AS to_category, ts,
            lagInFrame(category, 1, '') OVER w AS from_category,
            lagInFrame(ts, 1, ts) OVER w AS from_ts,
            row_number() OVER w AS nth
        FROM ocel
        WHERE order_id != '' AND category != ''
        WINDOW w AS (PARTITION BY order_id ORDER BY ts, activity
                     ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    )
)
WHERE nth > 1 AND from_category != to_category
GROUP BY from_category, to_category
ORDER BY p95_s DESC, from_category, to_category
LIMIT {limit:UInt32}
"""

# Lifecycles (dateDiff, quantile): per order, the span from its first to its last event
# of each category; and of the order itself.
LIFECYCLES = """
SELECT name, count() AS objects, avg(span_s) AS avg_s, quantile(0.5)(span_s) AS p50_s,
    quantile(0.95)(span_s) AS p95_s, max(span_s) AS max_s
FROM (
    SELECT order_id, category AS name,
        dateDiff('millisecond', min(ts), max(ts)) / 1000 AS span_s
    FROM ocel WHERE order_id != '' AND category != ''
    GROUP BY order_id, category
    UNION ALL
    SELECT order_id, 'Order' AS name,
        dateDiff('millisecond', min(ts), max(ts)) / 1000 AS span_s
    FROM ocel WHERE order_id != ''
    GROUP BY order_id
)
GROUP BY name
ORDER BY name = 'Order' DESC, p95_s DESC, name
"""

# Vendor contention: each order's wait on its vendor (from its first `wait_from` to its
# first `wait_to` after it; still open: until the end of the range) as +1/-1 points;
# the running sum per vendor is how many orders wait on it at once. Samples are
# (-wait, ns of the wait's start, order); their sessions are looked up after.
VENDOR_CONTENTION = """
, vendor_orders AS (
    SELECT vendor_id, any(vendor_name) AS vendor_name,
        uniqExact(order_id) AS orders,
        uniqExactIf(order_id, activity = 'revision.requested') AS reworked
    FROM ocel WHERE vendor_id != '' AND order_id != ''
    GROUP BY vendor_id
),
waits AS (
    SELECT order_id, vendor_id, started,
        arrayFirst(t -> t >= started, ends) AS first_end,
        first_end > toDateTime64(0, 9) AS done,
        if(done, first_end, {end:DateTime64(9)}) AS ended,
        dateDiff('millisecond', started, ended) / 1000 AS wait_s
    FROM (
        SELECT order_id,
            anyIf(vendor_id, vendor_id != '') AS vendor_id,
            minIf(ts, activity = {wait_from:String}) AS started,
            arraySort(groupArrayIf(ts, activity = {wait_to:String})) AS ends,
            countIf(activity = {wait_from:String}) AS starts
        FROM ocel WHERE order_id != ''
        GROUP BY order_id
    )
    WHERE starts > 0 AND vendor_id != ''
),
peaks AS (
    SELECT vendor_id, max(running) AS peak, argMax(at, running) AS peak_at
    FROM (
        SELECT vendor_id, point.1 AS at,
            sum(point.2) OVER (PARTITION BY vendor_id ORDER BY point.1, point.2
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
        FROM waits
        ARRAY JOIN [(started, toInt64(1)), (ended, toInt64(-1))] AS point
    )
    GROUP BY vendor_id
),
wait_stats AS (
    SELECT vendor_id, count() AS waits, countIf(NOT done) AS open_waits,
        avgIf(wait_s, done) AS avg_wait_s,
        quantileIf(0.5)(wait_s, done) AS p50_wait_s,
        quantileIf(0.95)(wait_s, done) AS p95_wait_s,
        groupArraySorted({samples:UInt8})((-wait_s, toUnixTimestamp64Nano(started), order_id))
            AS samples
    FROM waits GROUP BY vendor_id
)
SELECT o.vendor_id AS vendor_id, o.vendor_name AS vendor_name, o.orders AS orders,
    o.reworked AS reworked, w.waits AS waits, w.open_waits AS open_waits,
    w.avg_wait_s AS avg_wait_s, w.p50_wait_s AS p50_wait_s, w.p95_wait_s AS p95_wait_s,
    p.peak AS peak, p.peak_at AS peak_at, w.samples AS samples
FROM vendor_orders AS o
LEFT JOIN wait_stats AS w ON w.vendor_id = o.vendor_id
LEFT JOIN peaks AS p ON p.vendor_id = o.vendor_id
ORDER BY peak DESC, p95_wait_s DESC, vendor_id
LIMIT {limit:UInt32}
"""
