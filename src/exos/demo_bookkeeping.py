"""Which demo sessions `exos up --demo` has fully sent (see exos.demo_bootstrap)."""

DEMO_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS exos_demo_sessions
(
    session_id String,
    seed UInt32,
    scale Float64,
    anchor DateTime64(3, 'UTC'),
    loaded_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree ORDER BY session_id
"""
