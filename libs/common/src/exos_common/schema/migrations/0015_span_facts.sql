-- query-api: a narrow copy of every span with the attributes product analytics and site
-- health group and filter on as plain columns, so a dashboard never reads the Map
-- columns of otel_traces (a Map is read whole: every key and value of every row).
-- Page and Endpoint are URL paths with id-like segments (any segment holding a digit)
-- replaced by :id, e.g. /orders/ORD-1042/scheduling -> /orders/:id/scheduling.
-- Fed by a materialized view. A batch the writer retries with the same deduplication
-- token is dropped by otel_traces, and (deduplicate_blocks_in_dependent_materialized_views,
-- on by default) by this table too, with a token derived from the writer's: that needs
-- the same deduplication window here as on otel_traces.
-- The backfill at the end fills the table from spans stored before this migration.
CREATE TABLE IF NOT EXISTS span_facts
(
    `Timestamp` DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(1)),
    `SpanName` LowCardinality(String) CODEC(ZSTD(1)),
    `SessionId` String CODEC(ZSTD(1)),
    `Page` LowCardinality(String) CODEC(ZSTD(1)),
    `IsPageView` UInt8,
    `IsError` UInt8,
    `DurationNs` UInt64 CODEC(T64, ZSTD(1)),
    `HttpMethod` LowCardinality(String) CODEC(ZSTD(1)),
    `HttpStatus` UInt16,
    `Endpoint` LowCardinality(String) CODEC(ZSTD(1)),
    `Vital` LowCardinality(String) CODEC(ZSTD(1)),
    `VitalValue` Float64 CODEC(ZSTD(1)),
    `VisitorId` String CODEC(ZSTD(1)),
    `Browser` LowCardinality(String) CODEC(ZSTD(1)),
    `Os` LowCardinality(String) CODEC(ZSTD(1)),
    `DeviceType` LowCardinality(String) CODEC(ZSTD(1)),
    `Country` LowCardinality(String) CODEC(ZSTD(1)),
    `City` LowCardinality(String) CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, Timestamp)
TTL ${ttl_otel_traces}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1,
    non_replicated_deduplication_window = ${dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS span_facts_mv TO span_facts AS
SELECT
    Timestamp,
    ServiceName,
    SpanName,
    ResourceAttributes['rum.sessionId'] AS SessionId,
    replaceRegexpAll(path(SpanAttributes['location.href']), '/[^/]*[0-9][^/]*', '/:id') AS Page,
    SpanName IN ('documentLoad', 'routeChange') AS IsPageView,
    StatusCode = 'Error' AS IsError,
    Duration AS DurationNs,
    SpanAttributes['http.method'] AS HttpMethod,
    toUInt16OrZero(SpanAttributes['http.status_code']) AS HttpStatus,
    if(startsWith(SpanName, 'HTTP '),
       replaceRegexpAll(path(SpanAttributes['http.url']), '/[^/]*[0-9][^/]*', '/:id'), '') AS Endpoint,
    multiIf(SpanName != 'webvitals', '',
            mapContains(SpanAttributes, 'lcp'), 'lcp',
            mapContains(SpanAttributes, 'inp'), 'inp',
            mapContains(SpanAttributes, 'fid'), 'fid',
            mapContains(SpanAttributes, 'cls'), 'cls',
            mapContains(SpanAttributes, 'ttfb'), 'ttfb',
            mapContains(SpanAttributes, 'fcp'), 'fcp', '') AS Vital,
    if(Vital = '', 0, ifNull(toFloat64OrNull(SpanAttributes[Vital]), 0)) AS VitalValue,
    SpanAttributes['visitor.id'] AS VisitorId,
    SpanAttributes['visitor.browser'] AS Browser,
    SpanAttributes['visitor.os'] AS Os,
    SpanAttributes['visitor.device_type'] AS DeviceType,
    SpanAttributes['visitor.country'] AS Country,
    SpanAttributes['visitor.city'] AS City
FROM otel_traces;

INSERT INTO span_facts
SELECT
    Timestamp,
    ServiceName,
    SpanName,
    ResourceAttributes['rum.sessionId'] AS SessionId,
    replaceRegexpAll(path(SpanAttributes['location.href']), '/[^/]*[0-9][^/]*', '/:id') AS Page,
    SpanName IN ('documentLoad', 'routeChange') AS IsPageView,
    StatusCode = 'Error' AS IsError,
    Duration AS DurationNs,
    SpanAttributes['http.method'] AS HttpMethod,
    toUInt16OrZero(SpanAttributes['http.status_code']) AS HttpStatus,
    if(startsWith(SpanName, 'HTTP '),
       replaceRegexpAll(path(SpanAttributes['http.url']), '/[^/]*[0-9][^/]*', '/:id'), '') AS Endpoint,
    multiIf(SpanName != 'webvitals', '',
            mapContains(SpanAttributes, 'lcp'), 'lcp',
            mapContains(SpanAttributes, 'inp'), 'inp',
            mapContains(SpanAttributes, 'fid'), 'fid',
            mapContains(SpanAttributes, 'cls'), 'cls',
            mapContains(SpanAttributes, 'ttfb'), 'ttfb',
            mapContains(SpanAttributes, 'fcp'), 'fcp', '') AS Vital,
    if(Vital = '', 0, ifNull(toFloat64OrNull(SpanAttributes[Vital]), 0)) AS VitalValue,
    SpanAttributes['visitor.id'] AS VisitorId,
    SpanAttributes['visitor.browser'] AS Browser,
    SpanAttributes['visitor.os'] AS Os,
    SpanAttributes['visitor.device_type'] AS DeviceType,
    SpanAttributes['visitor.country'] AS Country,
    SpanAttributes['visitor.city'] AS City
FROM otel_traces
WHERE (SELECT count() FROM span_facts) = 0
