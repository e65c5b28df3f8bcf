-- query-api: one row per session (after merges), the figures the analytics overview,
-- breakdowns and retention need: first/last span, spans, page views, error spans and the
-- visitor's attributes. AggregatingMergeTree with SimpleAggregateFunction columns: every
-- insert block adds partial rows that merges fold together; readers GROUP BY SessionId.
-- A retried batch is deduplicated here as in span_facts (see 0015).
CREATE TABLE IF NOT EXISTS session_summary
(
    `ServiceName` LowCardinality(String),
    `SessionId` String,
    `Started` SimpleAggregateFunction(min, DateTime64(9)),
    `Ended` SimpleAggregateFunction(max, DateTime64(9)),
    `Spans` SimpleAggregateFunction(sum, UInt64),
    `PageViews` SimpleAggregateFunction(sum, UInt64),
    `Errors` SimpleAggregateFunction(sum, UInt64),
    `VisitorId` SimpleAggregateFunction(max, String),
    `Browser` SimpleAggregateFunction(max, String),
    `Os` SimpleAggregateFunction(max, String),
    `DeviceType` SimpleAggregateFunction(max, String),
    `Country` SimpleAggregateFunction(max, String),
    `City` SimpleAggregateFunction(max, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (ServiceName, SessionId)
SETTINGS non_replicated_deduplication_window = ${dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS session_summary_mv TO session_summary AS
SELECT
    ServiceName,
    ResourceAttributes['rum.sessionId'] AS SessionId,
    min(Timestamp) AS Started,
    max(Timestamp) AS Ended,
    toUInt64(count()) AS Spans,
    toUInt64(countIf(SpanName IN ('documentLoad', 'routeChange'))) AS PageViews,
    toUInt64(countIf(StatusCode = 'Error')) AS Errors,
    max(SpanAttributes['visitor.id']) AS VisitorId,
    max(SpanAttributes['visitor.browser']) AS Browser,
    max(SpanAttributes['visitor.os']) AS Os,
    max(SpanAttributes['visitor.device_type']) AS DeviceType,
    max(SpanAttributes['visitor.country']) AS Country,
    max(SpanAttributes['visitor.city']) AS City
FROM otel_traces
WHERE SessionId != ''
GROUP BY ServiceName, SessionId;

INSERT INTO session_summary
SELECT
    ServiceName,
    ResourceAttributes['rum.sessionId'] AS SessionId,
    min(Timestamp) AS Started,
    max(Timestamp) AS Ended,
    toUInt64(count()) AS Spans,
    toUInt64(countIf(SpanName IN ('documentLoad', 'routeChange'))) AS PageViews,
    toUInt64(countIf(StatusCode = 'Error')) AS Errors,
    max(SpanAttributes['visitor.id']) AS VisitorId,
    max(SpanAttributes['visitor.browser']) AS Browser,
    max(SpanAttributes['visitor.os']) AS Os,
    max(SpanAttributes['visitor.device_type']) AS DeviceType,
    max(SpanAttributes['visitor.country']) AS Country,
    max(SpanAttributes['visitor.city']) AS City
FROM otel_traces
WHERE SessionId != '' AND (SELECT count() FROM session_summary) = 0
GROUP BY ServiceName, SessionId
