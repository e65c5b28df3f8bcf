-- insights: Ask AI's conversation memory, one row per turn, shared by every replica (a
-- follow-up may land on any of them). A turn keeps what the next one needs as context:
-- the question, the SQL that ran, its columns and a few rows, and how it ended.
-- Conversations older than 90 days are dropped.
CREATE TABLE IF NOT EXISTS insights_conversations
(
    `conversation_id` String,
    `turn_id` String,
    `created_at` DateTime64(3) DEFAULT now64(3),
    `question` String,
    `sql` String,
    `explanation` String,
    `narrative` String,
    `status` LowCardinality(String),
    `error` String,
    `columns` Array(String),
    `row_count` UInt64,
    `sample_rows` String
)
ENGINE = MergeTree
ORDER BY (conversation_id, created_at)
TTL toDateTime(created_at) + toIntervalDay(90)
