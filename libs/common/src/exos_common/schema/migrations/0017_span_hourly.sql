-- query-api: spans, error spans and distinct sessions per hour, page and visitor
-- attributes, for the site health error rate (a few thousand rows instead of every span).
-- Sessions are `uniq` states (exact up to 65,536 distinct sessions per group, then within
-- about 1%), so hours, days and the whole range merge them without counting a session
-- twice. Fed from span_facts (0015) by a chained materialized view: a retried batch the
-- writer sends with the same token is dropped here too, as there.
CREATE TABLE IF NOT EXISTS span_hourly
(
    `Hour` DateTime,
    `ServiceName` LowCardinality(String),
    `Page` LowCardinality(String),
    `Browser` LowCardinality(String),
    `Os` LowCardinality(String),
    `DeviceType` LowCardinality(String),
    `Country` LowCardinality(String),
    `City` LowCardinality(String),
    `Spans` SimpleAggregateFunction(sum, UInt64),
    `Errors` SimpleAggregateFunction(sum, UInt64),
    `Sessions` AggregateFunction(uniq, String),
    `ErrorSessions` AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(Hour)
ORDER BY (ServiceName, Hour, Page, Browser, Os, DeviceType, Country, City)
TTL Hour + toIntervalDay(400)
SETTINGS non_replicated_deduplication_window = ${dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS span_hourly_mv TO span_hourly AS
SELECT
    toStartOfHour(Timestamp) AS Hour,
    ServiceName, Page, Browser, Os, DeviceType, Country, City,
    toUInt64(count()) AS Spans,
    toUInt64(countIf(IsError = 1)) AS Errors,
    uniqState(SessionId) AS Sessions,
    uniqStateIf(SessionId, IsError = 1) AS ErrorSessions
FROM span_facts
WHERE SessionId != ''
GROUP BY Hour, ServiceName, Page, Browser, Os, DeviceType, Country, City;

INSERT INTO span_hourly
SELECT
    toStartOfHour(Timestamp) AS Hour,
    ServiceName, Page, Browser, Os, DeviceType, Country, City,
    toUInt64(count()) AS Spans,
    toUInt64(countIf(IsError = 1)) AS Errors,
    uniqState(SessionId) AS Sessions,
    uniqStateIf(SessionId, IsError = 1) AS ErrorSessions
FROM span_facts
WHERE SessionId != '' AND (SELECT count() FROM span_hourly) = 0
GROUP BY Hour, ServiceName, Page, Browser, Os, DeviceType, Country, City
