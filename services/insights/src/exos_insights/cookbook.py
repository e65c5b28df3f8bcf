# ruff: noqa: E501  (SQL reads better unwrapped)
"""The query cookbook (docs/04-query-cookbook.md) and its ClickHouse primitives, as data: the docs endpoints
serve them, the prompt carries the cookbook as examples, and a test runs every example
through the guard on fixture data, so each one is runnable as shown.

The SQL is the reference set of `exos.demo.seed_queries` (Query Cookbook, Process Mining
SQL Examples, Object-Centric Process Mining) with the two fixes `exos.demo.seed_queries` explains: `toFloat64OrNull`
for the Web Vitals (the SDK sends one metric per span) and explicit category pairs for
the object-interaction query (two identical `arrayJoin`s are one join).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    question: str
    sql: str
    source: str  # its section of the reference set, or "EXOS" for additions

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Primitive:
    function: str
    purpose: str
    celonis_equivalent: str
    area: str  # "process mining" (seven examples) or "OCPM" (eight)
    example: str
    docs: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


_DOCS = "https://clickhouse.com/docs/en/sql-reference"

SPAN_NAMES = Recipe(
    "span_names",
    "Which events happened most in the last 7 days?",
    "SELECT SpanName, count() AS cnt FROM otel_traces WHERE Timestamp >= now() - INTERVAL 7 DAY GROUP BY SpanName ORDER BY cnt DESC LIMIT 20",
    "Data Architecture (otel_traces)",
)

COOKBOOK: tuple[Recipe, ...] = (
    SPAN_NAMES,
    Recipe(
        "replay_sessions",
        "Which sessions were recorded most recently?",
        "SELECT session_id, count() AS batches, min(timestamp) AS started FROM hyperdx_sessions WHERE timestamp >= now() - INTERVAL 7 DAY GROUP BY session_id ORDER BY started DESC LIMIT 10",
        "Data Architecture (hyperdx_sessions)",
    ),
    Recipe(
        "log_severities",
        "How much console output is there by severity?",
        "SELECT SeverityText, count() AS cnt FROM otel_logs WHERE Timestamp >= now() - INTERVAL 7 DAY GROUP BY SeverityText ORDER BY cnt DESC",
        "Data Architecture (otel_logs)",
    ),
    Recipe(
        "rage_click_sessions",
        "Show me sessions with rage clicks",
        "SELECT ResourceAttributes['rum.sessionId'] AS session_id, count() AS rage_count FROM otel_traces WHERE SpanName = 'rage_click' GROUP BY session_id ORDER BY rage_count DESC",
        "Query Cookbook",
    ),
    Recipe(
        "slowest_http",
        "What are the slowest API calls?",
        "SELECT SpanAttributes['http.url'] AS url, avg(Duration) / 1e6 AS avg_ms, count() AS calls\nFROM otel_traces WHERE SpanName IN ('HTTP POST', 'HTTP GET')\nGROUP BY url ORDER BY avg_ms DESC LIMIT 10",
        "Query Cookbook",
    ),
    Recipe(
        "returning_chicago_sessions",
        "Sessions from returning visitors in Chicago",
        "SELECT DISTINCT ResourceAttributes['rum.sessionId'] AS session_id FROM otel_traces WHERE SpanAttributes['visitor.city'] = 'Chicago' AND SpanAttributes['visitor.returning'] = 'true'",
        "Query Cookbook",
    ),
    Recipe(
        "web_vitals_by_page",
        "Web Vitals by page",
        "SELECT SpanAttributes['location.href'] AS page,\navg(toFloat64OrNull(SpanAttributes['lcp'])) AS avg_lcp_ms,\navg(toFloat64OrNull(SpanAttributes['fid'])) AS avg_fid_ms\nFROM otel_traces WHERE SpanName = 'webvitals'\nGROUP BY page ORDER BY avg_lcp_ms DESC",
        "Query Cookbook (toFloat64OrNull: one metric per span)",
    ),
    Recipe(
        "console_errors_by_session",
        "Which sessions had the most console errors?",
        "SELECT ResourceAttributes['rum.sessionId'] AS session_id, count() AS error_count,\ngroupArray(10)(Body) AS sample_messages\nFROM otel_logs WHERE SeverityText = 'error'\nGROUP BY session_id ORDER BY error_count DESC LIMIT 10",
        "Query Cookbook",
    ),
    Recipe(
        "operators_by_orders",
        "Which operators handle the most orders?",
        "SELECT SpanAttributes['operator.name'] AS operator, uniqExact(SpanAttributes['order.id']) AS orders, count() AS events\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' AND SpanAttributes['operator.name'] != ''\nGROUP BY operator ORDER BY orders DESC LIMIT 20",
        "EXOS (the first Ask AI example question)",
    ),
    Recipe(
        "conformance",
        "How many orders follow the path email received -> review started -> report submitted?",
        "SELECT countIf(matched) AS conforming, count() AS total,\nround(conforming / total * 100, 1) AS conformance_pct\nFROM (\nSELECT SpanAttributes['order.id'] AS order_id,\nsequenceMatch('(?1)(?2)(?3)')(toDateTime(Timestamp),\nSpanName = 'email.received', SpanName = 'review.started',\nSpanName = 'report.submitted') AS matched\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY order_id\n)",
        "Process Mining SQL Examples",
    ),
    Recipe(
        "rework",
        "Which orders went back for revision after review, and how often?",
        "SELECT SpanAttributes['order.id'] AS order_id,\nsequenceCount('(?1)(?2)')(toDateTime(Timestamp),\nSpanName = 'review.started', SpanName = 'revision.requested') AS rework_loops\nFROM otel_traces WHERE SpanAttributes['order.id'] != ''\nGROUP BY order_id HAVING rework_loops > 0 ORDER BY rework_loops DESC",
        "Process Mining SQL Examples",
    ),
    Recipe(
        "transition_bottlenecks",
        "Where do orders wait longest between steps?",
        "SELECT step_from, step_to, round(avg(gap_hours), 1) AS avg_hours,\nround(quantile(0.95)(gap_hours), 1) AS p95_hours\nFROM (\nSELECT SpanName AS step_to,\nlagInFrame(SpanName) OVER (PARTITION BY SpanAttributes['order.id'] ORDER BY Timestamp) AS step_from,\ndateDiff('hour', lagInFrame(Timestamp) OVER (PARTITION BY SpanAttributes['order.id'] ORDER BY Timestamp), Timestamp) AS gap_hours\nFROM otel_traces WHERE SpanAttributes['order.id'] != ''\n) WHERE step_from != '' GROUP BY step_from, step_to ORDER BY p95_hours DESC LIMIT 10",
        "Process Mining SQL Examples",
    ),
    Recipe(
        "object_interaction",
        "Which object categories occur together on the same order?",
        "SELECT c1 AS category_a, c2 AS category_b,\ncount() AS co_occurrence_count\nFROM (\nSELECT oid,\narrayJoin(arrayFlatten(arrayMap(a -> arrayMap(b -> (a, b), categories), categories))) AS pair,\npair.1 AS c1,\npair.2 AS c2\nFROM (\nSELECT SpanAttributes['order.id'] AS oid,\narrayDistinct(groupArray(\nCASE WHEN SpanName LIKE 'email.%' THEN 'Communication'\nWHEN SpanName LIKE 'page.%' THEN 'Portal'\nWHEN SpanName LIKE 'action.%' THEN 'System Action'\nEND\n)) AS categories\nFROM otel_traces\nWHERE SpanAttributes['order.id'] != ''\nGROUP BY oid\nHAVING length(categories) >= 2\n)\n) WHERE c1 < c2\nGROUP BY c1, c2\nORDER BY co_occurrence_count DESC",
        "Object-Centric Process Mining (pairs built explicitly)",
    ),
)


def _sql(name: str) -> str:
    return next(recipe.sql for recipe in COOKBOOK if recipe.name == name)


_MILESTONES = "match(SpanName, '^(order|appraisal|inspection|review|report|revision)[.]')"

PRIMITIVES: tuple[Primitive, ...] = (
    Primitive(
        "sequenceMatch()",
        "Happy path conformance: does an order's event sequence match a pattern?",
        "Process Conformance",
        "process mining",
        _sql("conformance"),
        f"{_DOCS}/aggregate-functions/parametric-functions#sequencematch",
    ),
    Primitive(
        "sequenceCount()",
        "Rework loop detection: how many times a pattern repeats per order",
        "Rework Analysis",
        "process mining",
        _sql("rework"),
        f"{_DOCS}/aggregate-functions/parametric-functions#sequencecount",
    ),
    Primitive(
        "lagInFrame()",
        "Transition timing: the previous event of the same order, and the time since it",
        "Bottleneck Analysis",
        "process mining",
        _sql("transition_bottlenecks"),
        f"{_DOCS}/window-functions/lagInFrame",
    ),
    Primitive(
        "windowFunnel()",
        "Funnel conversion: how far each order got through ordered steps within a window",
        "Conversion Funnel",
        "process mining",
        "SELECT level, count() AS orders FROM (\nSELECT SpanAttributes['order.id'] AS order_id,\nwindowFunnel(30 * 86400)(toDateTime(Timestamp), SpanName = 'order.created', SpanName = 'appraisal.assigned', SpanName = 'review.started', SpanName = 'report.submitted', SpanName = 'order.closed') AS level\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY order_id\n) GROUP BY level ORDER BY level",
        f"{_DOCS}/aggregate-functions/parametric-functions#windowfunnel",
    ),
    Primitive(
        "groupArray()",
        "Variant paths: each order's milestones in time order, counted per path",
        "Process Variants",
        "process mining",
        f"SELECT arrayStringConcat(path, ' -> ') AS variant, count() AS orders FROM (\nSELECT SpanAttributes['order.id'] AS order_id,\narrayMap(e -> e.2, arraySort(groupArray((Timestamp, SpanName)))) AS path\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' AND {_MILESTONES}\nGROUP BY order_id\n) GROUP BY variant ORDER BY orders DESC LIMIT 10",
        f"{_DOCS}/aggregate-functions/reference/grouparray",
    ),
    Primitive(
        "quantile()",
        "P95 bottlenecks: the time most orders stay under, and the tail",
        "KPI Thresholds",
        "process mining",
        "SELECT lob, count() AS orders, round(quantile(0.5)(hours), 1) AS p50_hours, round(quantile(0.95)(hours), 1) AS p95_hours FROM (\nSELECT SpanAttributes['order.id'] AS order_id,\nanyIf(SpanAttributes['order.lob'], SpanAttributes['order.lob'] != '') AS lob,\ndateDiff('minute', min(Timestamp), max(Timestamp)) / 60 AS hours\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY order_id\n) GROUP BY lob ORDER BY p95_hours DESC",
        f"{_DOCS}/aggregate-functions/reference/quantile",
    ),
    Primitive(
        "rolling z-score",
        "Anomaly detection: how far each day's intake is from the previous week's mean",
        "Anomaly Alerts",
        "process mining",
        "SELECT day, orders, round((orders - avg(orders) OVER w) / nullIf(stddevPop(orders) OVER w, 0), 2) AS z_score\nFROM (SELECT toDate(Timestamp) AS day, count() AS orders FROM otel_traces WHERE SpanName = 'order.created' GROUP BY day)\nWINDOW w AS (ORDER BY day ROWS BETWEEN 7 PRECEDING AND 1 PRECEDING)\nORDER BY day",
        f"{_DOCS}/window-functions",
    ),
    Primitive(
        "arrayJoin()",
        "Explode category arrays into co-occurrence pairs",
        "Object Interaction Graph",
        "OCPM",
        _sql("object_interaction"),
        f"{_DOCS}/functions/array-join",
    ),
    Primitive(
        "arrayDistinct()",
        "Deduplicate categories per order",
        "N/A (PQL engine)",
        "OCPM",
        "SELECT SpanAttributes['order.id'] AS order_id, arrayDistinct(groupArray(splitByChar('.', SpanName)[1])) AS categories\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY order_id LIMIT 10",
        f"{_DOCS}/functions/array-functions#arraydistinct",
    ),
    Primitive(
        "groupArray()",
        "Reconstruct event sequences per category",
        "Process Variant Analysis",
        "OCPM",
        "SELECT splitByChar('.', SpanName)[1] AS category, SpanAttributes['order.id'] AS order_id,\narrayMap(e -> e.2, arraySort(groupArray((Timestamp, SpanName)))) AS sequence\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY category, order_id LIMIT 10",
        f"{_DOCS}/aggregate-functions/reference/grouparray",
    ),
    Primitive(
        "cityHash64()",
        "Fast variant hashing for counting",
        "Proprietary indexing",
        "OCPM",
        f"SELECT cityHash64(path) AS variant_id, any(path) AS example, count() AS orders FROM (\nSELECT SpanAttributes['order.id'] AS order_id, arrayMap(e -> e.2, arraySort(groupArray((Timestamp, SpanName)))) AS path\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' AND {_MILESTONES} GROUP BY order_id\n) GROUP BY variant_id ORDER BY orders DESC LIMIT 10",
        f"{_DOCS}/functions/hash-functions#cityhash64",
    ),
    Primitive(
        "topK()",
        "Approximate top-K path patterns",
        "Top Variants view",
        "OCPM",
        f"SELECT topK(5)(arrayStringConcat(path, ' -> ')) AS top_variants FROM (\nSELECT arrayMap(e -> e.2, arraySort(groupArray((Timestamp, SpanName)))) AS path\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' AND {_MILESTONES} GROUP BY SpanAttributes['order.id'])",
        f"{_DOCS}/aggregate-functions/reference/topk",
    ),
    Primitive(
        "lagInFrame()",
        "Cross-category transition timing",
        "Bottleneck Analysis (OCPM)",
        "OCPM",
        "SELECT from_category, to_category, count() AS handoffs, round(avg(gap_min), 1) AS avg_minutes FROM (\nSELECT splitByChar('.', SpanName)[1] AS to_category,\nlagInFrame(splitByChar('.', SpanName)[1]) OVER w AS from_category,\ndateDiff('minute', lagInFrame(Timestamp) OVER w, Timestamp) AS gap_min\nFROM otel_traces WHERE SpanAttributes['order.id'] != ''\nWINDOW w AS (PARTITION BY SpanAttributes['order.id'] ORDER BY Timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)\n) WHERE from_category != '' AND from_category != to_category\nGROUP BY from_category, to_category ORDER BY avg_minutes DESC LIMIT 10",
        f"{_DOCS}/window-functions/lagInFrame",
    ),
    Primitive(
        "quantile()",
        "P50/P95 lifecycle durations",
        "KPI Thresholds",
        "OCPM",
        "SELECT round(quantile(0.5)(hours), 1) AS p50_hours, round(quantile(0.95)(hours), 1) AS p95_hours FROM (\nSELECT dateDiff('minute', min(Timestamp), max(Timestamp)) / 60 AS hours FROM otel_traces\nWHERE SpanAttributes['order.id'] != '' GROUP BY SpanAttributes['order.id'])",
        f"{_DOCS}/aggregate-functions/reference/quantile",
    ),
    Primitive(
        "dateDiff()",
        "Object lifecycle span computation",
        "Throughput Time",
        "OCPM",
        "SELECT SpanAttributes['order.id'] AS order_id, min(Timestamp) AS first_event, max(Timestamp) AS last_event,\ndateDiff('hour', min(Timestamp), max(Timestamp)) AS lifecycle_hours\nFROM otel_traces WHERE SpanAttributes['order.id'] != '' GROUP BY order_id ORDER BY lifecycle_hours DESC LIMIT 10",
        f"{_DOCS}/functions/date-time-functions#datediff",
    ),
)
