-- writer: records (or rows of one record) ClickHouse refused, isolated by bisecting the
-- batch they came in, kept with where they came from and why, so their partition goes
-- on. raw_message and message_key are the record's bytes in base64 (they may be any
-- bytes); row_index is the refused row within the record, -1 for the whole record.
-- The writer inserts each row with a deduplication token, so a replayed batch does not
-- quarantine a record twice. Kept 30 days, like the tables it protects.
CREATE TABLE IF NOT EXISTS exos_quarantine
(
    `quarantined_at` DateTime64(3),
    `target_table` LowCardinality(String),
    `topic` LowCardinality(String),
    `partition` UInt32,
    `offset` UInt64,
    `row_index` Int32,
    `error_class` LowCardinality(String),
    `error_code` Int32,
    `error_name` LowCardinality(String),
    `error_text` String,
    `message_key` String,
    `raw_message` String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(quarantined_at)
ORDER BY (target_table, topic, partition, offset, row_index)
TTL toDateTime(quarantined_at) + toIntervalDay(30)
SETTINGS non_replicated_deduplication_window = ${dedup_window}
