-- query-api process mining: the event log. One row per domain event (a span carrying
-- `order.id` or `operator.id`, e.g. a HyperDX.addAction('order.created', ...)), with the
-- case, activity, session and the attributes process-mining filters on as plain columns,
-- sorted by order and time: sequence functions (windowFunnel, sequenceMatch,
-- sequenceCount, lagInFrame) read a few narrow columns of the orders they need instead
-- of every Map of every span of otel_traces.
-- Deduplication: ClickHouse passes a block the writer retries with the same
-- `insert_deduplication_token` on to dependent views even when otel_traces drops it
-- (deduplicate_blocks_in_dependent_materialized_views), with a token derived from the
-- writer's; this table drops it only because it has a deduplication window of its own.
-- The backfill at the end fills the table from spans stored before this migration.
CREATE TABLE IF NOT EXISTS process_events
(
    `Timestamp` DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    `OrderId` String CODEC(ZSTD(1)),
    `Activity` LowCardinality(String) CODEC(ZSTD(1)),
    `SessionId` String CODEC(ZSTD(1)),
    `SpanId` String CODEC(ZSTD(1)),
    `ServiceName` LowCardinality(String) CODEC(ZSTD(1)),
    `OperatorId` LowCardinality(String) CODEC(ZSTD(1)),
    `OperatorName` LowCardinality(String) CODEC(ZSTD(1)),
    `OperatorRole` LowCardinality(String) CODEC(ZSTD(1)),
    `OperatorTeam` LowCardinality(String) CODEC(ZSTD(1)),
    `Lob` LowCardinality(String) CODEC(ZSTD(1)),
    `VendorId` LowCardinality(String) CODEC(ZSTD(1)),
    `VendorName` LowCardinality(String) CODEC(ZSTD(1)),
    `Client` LowCardinality(String) CODEC(ZSTD(1)),
    `Attributes` Map(LowCardinality(String), String) CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (OrderId, Timestamp)
TTL ${ttl_otel_traces}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1,
    non_replicated_deduplication_window = ${dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS process_events_mv TO process_events AS
SELECT
    Timestamp,
    SpanAttributes['order.id'] AS OrderId,
    SpanName AS Activity,
    ResourceAttributes['rum.sessionId'] AS SessionId,
    SpanId,
    ServiceName,
    SpanAttributes['operator.id'] AS OperatorId,
    SpanAttributes['operator.name'] AS OperatorName,
    SpanAttributes['operator.role'] AS OperatorRole,
    SpanAttributes['operator.team'] AS OperatorTeam,
    SpanAttributes['order.lob'] AS Lob,
    SpanAttributes['vendor.id'] AS VendorId,
    SpanAttributes['vendor.name'] AS VendorName,
    SpanAttributes['order.client'] AS Client,
    SpanAttributes AS Attributes
FROM otel_traces
WHERE SpanAttributes['order.id'] != '' OR SpanAttributes['operator.id'] != '';

INSERT INTO process_events
SELECT
    Timestamp,
    SpanAttributes['order.id'] AS OrderId,
    SpanName AS Activity,
    ResourceAttributes['rum.sessionId'] AS SessionId,
    SpanId,
    ServiceName,
    SpanAttributes['operator.id'] AS OperatorId,
    SpanAttributes['operator.name'] AS OperatorName,
    SpanAttributes['operator.role'] AS OperatorRole,
    SpanAttributes['operator.team'] AS OperatorTeam,
    SpanAttributes['order.lob'] AS Lob,
    SpanAttributes['vendor.id'] AS VendorId,
    SpanAttributes['vendor.name'] AS VendorName,
    SpanAttributes['order.client'] AS Client,
    SpanAttributes AS Attributes
FROM otel_traces
WHERE (SpanAttributes['order.id'] != '' OR SpanAttributes['operator.id'] != '')
    AND (SELECT count() FROM process_events) = 0
