-- replay: the numbers of every stored rrweb chunk without its text, so the integrity
-- check of a session's detail and the heatbar's scroll weight read a few bytes per
-- chunk instead of the chunk bodies (a 30-minute session holds megabytes of them).
-- Event type and incremental source are read from the first chunk's first bytes
-- (rrweb writes `{"type":T,"data":{"source":S,...`). Fed by a materialized view on
-- hyperdx_sessions with its own deduplication window, like replay_sessions (0020), so a
-- batch the writer retries is indexed once. Its TTL follows hyperdx_sessions' at
-- creation; `exos migrate` reconciles only the three ClickStack tables.
CREATE TABLE IF NOT EXISTS replay_chunk_index
(
    `SessionId` String,
    `Timestamp` DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    `TimestampTime` DateTime DEFAULT toDateTime(Timestamp),
    `Ordinal` UInt64,
    `Chunk` UInt32,
    `Total` UInt32,
    `EventType` Nullable(Int16),
    `Source` Nullable(Int16),
    `Bytes` UInt32
)
ENGINE = MergeTree
PARTITION BY toDate(TimestampTime)
ORDER BY (SessionId, Timestamp, Ordinal, Chunk)
TTL ${ttl_hyperdx_sessions}
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = ${dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS replay_chunk_index_mv TO replay_chunk_index AS
SELECT
    ResourceAttributes['rum.sessionId'] AS SessionId,
    Timestamp,
    toUInt64OrZero(LogAttributes['rr-web.event']) AS Ordinal,
    greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) AS Chunk,
    greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1) AS Total,
    if(Chunk = 1, toInt16OrNull(extract(substring(Body, 1, 40), '^\\s*\\{"type":(\\d+)')), NULL)
        AS EventType,
    if(Chunk = 1, toInt16OrNull(extract(substring(Body, 1, 60),
        '^\\s*\\{"type":\\d+,"data":\\{"source":(\\d+)')), NULL) AS Source,
    toUInt32(length(Body)) AS Bytes
FROM hyperdx_sessions
WHERE SessionId != '';

INSERT INTO replay_chunk_index (SessionId, Timestamp, Ordinal, Chunk, Total, EventType,
    Source, Bytes)
SELECT
    ResourceAttributes['rum.sessionId'] AS SessionId,
    Timestamp,
    toUInt64OrZero(LogAttributes['rr-web.event']) AS Ordinal,
    greatest(toUInt32OrZero(LogAttributes['rr-web.chunk']), 1) AS Chunk,
    greatest(toUInt32OrZero(LogAttributes['rr-web.total-chunks']), 1) AS Total,
    if(Chunk = 1, toInt16OrNull(extract(substring(Body, 1, 40), '^\\s*\\{"type":(\\d+)')), NULL)
        AS EventType,
    if(Chunk = 1, toInt16OrNull(extract(substring(Body, 1, 60),
        '^\\s*\\{"type":\\d+,"data":\\{"source":(\\d+)')), NULL) AS Source,
    toUInt32(length(Body)) AS Bytes
FROM hyperdx_sessions
WHERE SessionId != '' AND (SELECT count() FROM replay_chunk_index) = 0
