-- query-api: the session id of a log record as its own column, as otel_traces has it
-- (`__hdx_materialized_rum.sessionId`, HyperDX's naming), so counting or filtering log
-- records by session reads one string column instead of every record's attribute Map.
-- New parts fill it on insert; MATERIALIZE COLUMN rewrites the existing parts in the
-- background (a mutation: asynchronous, the column reads correctly meanwhile).
ALTER TABLE otel_logs
    ADD COLUMN IF NOT EXISTS `__hdx_materialized_rum.sessionId` String
    MATERIALIZED ResourceAttributes['rum.sessionId'] CODEC(ZSTD(1));

ALTER TABLE otel_logs MATERIALIZE COLUMN `__hdx_materialized_rum.sessionId`
