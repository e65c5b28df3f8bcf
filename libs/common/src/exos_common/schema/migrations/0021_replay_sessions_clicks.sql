-- replay: physical clicks. The HyperDX SDK sends each click as two `click` spans, the
-- second a child of the first in the same trace and up to a millisecond later (seen in
-- tests/e2e and services/replay/tests/test_sdk_recording.py), so 0020's rule (same
-- millisecond and element) counted most clicks twice. A physical click is now a root
-- `click` span, two at the same millisecond on one element counting once (the demo
-- sends two root spans). The traces view is replaced and the summary rebuilt from the
-- stored rows, so sessions summarised under 0020 are corrected too.
DROP VIEW IF EXISTS replay_sessions_traces_mv;

TRUNCATE TABLE IF EXISTS replay_sessions;

CREATE MATERIALIZED VIEW IF NOT EXISTS replay_sessions_traces_mv2 TO replay_sessions AS
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
        SpanName = 'click' AND ParentSpanId = '') AS Clicks,
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
        SpanName = 'click' AND ParentSpanId = ''),
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
WHERE SessionId != ''
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
WHERE SessionId != ''
GROUP BY SessionId
