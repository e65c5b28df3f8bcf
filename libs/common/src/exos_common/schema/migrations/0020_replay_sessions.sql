-- replay: one row per session after merges (readers GROUP BY SessionId with the -Merge
-- functions), so the session list never reads otel_traces or hyperdx_sessions: times,
-- pages, physical clicks, errors, frustration signals, visitor, identity, and the
-- replay's shape (chunks, complete events, full snapshots, recorder) for its badge.
-- Fed by two materialized views, one per source table; each fills only its columns
-- (the other side's Nullable times stay NULL, which min/max skip).
-- Retried inserts: on this ClickHouse (chDB 26.9) a block that otel_traces drops as a
-- duplicate of an insert_deduplication_token still reaches its materialized views, and
-- the target then deduplicates it only if it has a deduplication window of its own;
-- hence non_replicated_deduplication_window here (the views' blocks get tokens derived
-- from the source's, so different source blocks never collide). Tested in
-- services/replay/tests/test_summary.py.
CREATE TABLE IF NOT EXISTS replay_sessions
(
    `SessionId` String,
    `ServiceName` SimpleAggregateFunction(max, String),
    `FirstSpan` SimpleAggregateFunction(min, Nullable(DateTime64(9))),
    `LastSpan` SimpleAggregateFunction(max, Nullable(DateTime64(9))),
    `Spans` SimpleAggregateFunction(sum, UInt64),
    `PageViews` SimpleAggregateFunction(sum, UInt64),
    `Pages` AggregateFunction(uniqExact, String),
    `EntryPage` AggregateFunction(argMin, String, DateTime64(9)),
    `Clicks` AggregateFunction(uniqExact, UInt64),
    `Errors` SimpleAggregateFunction(sum, UInt64),
    `RageClicks` SimpleAggregateFunction(sum, UInt64),
    `DeadClicks` SimpleAggregateFunction(sum, UInt64),
    `ExcessiveScrolls` SimpleAggregateFunction(sum, UInt64),
    `QuickBacks` SimpleAggregateFunction(sum, UInt64),
    `UserEmail` AggregateFunction(argMax, String, DateTime64(9)),
    `UserName` AggregateFunction(argMax, String, DateTime64(9)),
    `UserId` AggregateFunction(argMax, String, DateTime64(9)),
    `City` SimpleAggregateFunction(max, String),
    `Region` SimpleAggregateFunction(max, String),
    `Country` SimpleAggregateFunction(max, String),
    `Browser` SimpleAggregateFunction(max, String),
    `Os` SimpleAggregateFunction(max, String),
    `DeviceType` SimpleAggregateFunction(max, String),
    `VisitorIp` SimpleAggregateFunction(max, String),
    `Returning` SimpleAggregateFunction(max, UInt8),
    `VisitCount` SimpleAggregateFunction(max, UInt32),
    `ReplayFirst` SimpleAggregateFunction(min, Nullable(DateTime64(9))),
    `ReplayLast` SimpleAggregateFunction(max, Nullable(DateTime64(9))),
    `ReplayChunks` SimpleAggregateFunction(sum, UInt64),
    `ReplayBytes` SimpleAggregateFunction(sum, UInt64),
    `ReplayEventsStarted` SimpleAggregateFunction(sum, UInt64),
    `ReplayEventsComplete` SimpleAggregateFunction(sum, UInt64),
    `ReplayChunksExpected` SimpleAggregateFunction(sum, UInt64),
    `FullSnapshots` SimpleAggregateFunction(sum, UInt64),
    `MetaEvents` SimpleAggregateFunction(sum, UInt64),
    `Recorder` SimpleAggregateFunction(max, String)
)
ENGINE = AggregatingMergeTree
ORDER BY SessionId
SETTINGS non_replicated_deduplication_window = ${dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS replay_sessions_traces_mv TO replay_sessions AS
SELECT
    ResourceAttributes['rum.sessionId'] AS SessionId,
    max(toString(ServiceName)) AS ServiceName,
    toNullable(min(Timestamp)) AS FirstSpan,
    toNullable(max(Timestamp)) AS LastSpan,
    toUInt64(count()) AS Spans,
    toUInt64(countIf(SpanName IN ('documentLoad', 'routeChange'))) AS PageViews,
    uniqExactStateIf(SpanAttributes['location.href'],
        SpanName IN ('documentLoad', 'routeChange')) AS Pages,
    argMinStateIf(SpanAttributes['location.href'], Timestamp,
        SpanAttributes['location.href'] != '') AS EntryPage,
    uniqExactStateIf(cityHash64(toUnixTimestamp64Milli(Timestamp), SpanAttributes['target_xpath']),
        SpanName = 'click') AS Clicks,
    toUInt64(countIf(StatusCode = 'Error')) AS Errors,
    toUInt64(countIf(SpanName = 'rage_click')) AS RageClicks,
    toUInt64(countIf(SpanName = 'dead_click')) AS DeadClicks,
    toUInt64(countIf(SpanName = 'excessive_scroll')) AS ExcessiveScrolls,
    toUInt64(countIf(SpanName = 'quick_back')) AS QuickBacks,
    argMaxStateIf(SpanAttributes['user.email'], Timestamp, SpanAttributes['user.email'] != '') AS UserEmail,
    argMaxStateIf(SpanAttributes['user.name'], Timestamp, SpanAttributes['user.name'] != '') AS UserName,
    argMaxStateIf(SpanAttributes['user.uid'], Timestamp, SpanAttributes['user.uid'] != '') AS UserId,
    max(SpanAttributes['visitor.city']) AS City,
    max(SpanAttributes['visitor.region']) AS Region,
    max(SpanAttributes['visitor.country']) AS Country,
    max(SpanAttributes['visitor.browser']) AS Browser,
    max(SpanAttributes['visitor.os']) AS Os,
    max(SpanAttributes['visitor.device_type']) AS DeviceType,
    max(SpanAttributes['visitor.ip']) AS VisitorIp,
    toUInt8(max(SpanAttributes['visitor.returning'] = 'true')) AS Returning,
    toUInt32(max(toUInt32OrZero(SpanAttributes['visitor.visit_count']))) AS VisitCount
FROM otel_traces
WHERE SessionId != ''
GROUP BY SessionId;

CREATE MATERIALIZED VIEW IF NOT EXISTS replay_sessions_replay_mv TO replay_sessions AS
SELECT
    ResourceAttributes['rum.sessionId'] AS SessionId,
    max(toString(ServiceName)) AS ServiceName,
    toNullable(min(Timestamp)) AS ReplayFirst,
    toNullable(max(Timestamp)) AS ReplayLast,
    toUInt64(count()) AS ReplayChunks,
    toUInt64(sum(length(Body))) AS ReplayBytes,
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1)) AS ReplayEventsStarted,
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1)
        = greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1))) AS ReplayEventsComplete,
    toUInt64(sumIf(greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1),
        greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1)) AS ReplayChunksExpected,
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1
        AND extract(Body, '^\\s*\\{"type":(\\d+)') = '2')) AS FullSnapshots,
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1
        AND extract(Body, '^\\s*\\{"type":(\\d+)') = '4')) AS MetaEvents,
    max(trim(concat(ScopeName, ' ', ScopeVersion))) AS Recorder
FROM hyperdx_sessions
WHERE SessionId != ''
GROUP BY SessionId;

INSERT INTO replay_sessions (SessionId, ServiceName, FirstSpan, LastSpan, Spans, PageViews,
    Pages, EntryPage, Clicks, Errors, RageClicks, DeadClicks, ExcessiveScrolls, QuickBacks,
    UserEmail, UserName, UserId, City, Region, Country, Browser, Os, DeviceType, VisitorIp,
    Returning, VisitCount)
SELECT
    ResourceAttributes['rum.sessionId'] AS SessionId,
    max(toString(ServiceName)),
    toNullable(min(Timestamp)),
    toNullable(max(Timestamp)),
    toUInt64(count()),
    toUInt64(countIf(SpanName IN ('documentLoad', 'routeChange'))),
    uniqExactStateIf(SpanAttributes['location.href'], SpanName IN ('documentLoad', 'routeChange')),
    argMinStateIf(SpanAttributes['location.href'], Timestamp, SpanAttributes['location.href'] != ''),
    uniqExactStateIf(cityHash64(toUnixTimestamp64Milli(Timestamp), SpanAttributes['target_xpath']),
        SpanName = 'click'),
    toUInt64(countIf(StatusCode = 'Error')),
    toUInt64(countIf(SpanName = 'rage_click')),
    toUInt64(countIf(SpanName = 'dead_click')),
    toUInt64(countIf(SpanName = 'excessive_scroll')),
    toUInt64(countIf(SpanName = 'quick_back')),
    argMaxStateIf(SpanAttributes['user.email'], Timestamp, SpanAttributes['user.email'] != ''),
    argMaxStateIf(SpanAttributes['user.name'], Timestamp, SpanAttributes['user.name'] != ''),
    argMaxStateIf(SpanAttributes['user.uid'], Timestamp, SpanAttributes['user.uid'] != ''),
    max(SpanAttributes['visitor.city']),
    max(SpanAttributes['visitor.region']),
    max(SpanAttributes['visitor.country']),
    max(SpanAttributes['visitor.browser']),
    max(SpanAttributes['visitor.os']),
    max(SpanAttributes['visitor.device_type']),
    max(SpanAttributes['visitor.ip']),
    toUInt8(max(SpanAttributes['visitor.returning'] = 'true')),
    toUInt32(max(toUInt32OrZero(SpanAttributes['visitor.visit_count'])))
FROM otel_traces
WHERE SessionId != '' AND (SELECT count() FROM replay_sessions) = 0
GROUP BY SessionId;

INSERT INTO replay_sessions (SessionId, ServiceName, ReplayFirst, ReplayLast, ReplayChunks,
    ReplayBytes, ReplayEventsStarted, ReplayEventsComplete, ReplayChunksExpected,
    FullSnapshots, MetaEvents, Recorder)
SELECT
    ResourceAttributes['rum.sessionId'] AS SessionId,
    max(toString(ServiceName)),
    toNullable(min(Timestamp)),
    toNullable(max(Timestamp)),
    toUInt64(count()),
    toUInt64(sum(length(Body))),
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1)),
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1)
        = greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1))),
    toUInt64(sumIf(greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1),
        greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1)),
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1
        AND extract(Body, '^\\s*\\{"type":(\\d+)') = '2')),
    toUInt64(countIf(greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) = 1
        AND extract(Body, '^\\s*\\{"type":(\\d+)') = '4')),
    max(trim(concat(ScopeName, ' ', ScopeVersion)))
FROM hyperdx_sessions
WHERE SessionId != '' AND (SELECT sum(ReplayChunks) FROM replay_sessions) = 0
GROUP BY SessionId
