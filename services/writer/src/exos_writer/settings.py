"""Settings of the writer (EXOS_* variables)."""

from __future__ import annotations

from pydantic import Field

from exos_common.settings import KafkaSettings, RuntimeSettings, StoreSettings


class WriterSettings(KafkaSettings, StoreSettings, RuntimeSettings):
    writer_group: str = Field("exos-writer", description="Kafka consumer group of the writers.")
    writer_batch_rows: int = Field(
        20_000, ge=1, description="A batch is inserted when it holds this many rows..."
    )
    writer_batch_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="...or this many bytes of messages..."
    )
    writer_batch_age_s: float = Field(
        0.5, gt=0, description="...or when its first record is this old (freshness bound)."
    )
    writer_insert_timeout_s: float = Field(
        60.0, gt=0, description="One insert attempt fails after this long."
    )
    writer_backoff_max_s: float = Field(
        30.0, gt=0, description="Longest pause between insert retries while ClickHouse is down."
    )
    writer_stall_s: float = Field(
        120.0,
        gt=0,
        description="A partition holding records with no commit for this long turns /readyz red.",
    )
    writer_fetch_max_records: int = Field(
        5_000, ge=1, description="Records fetched from Kafka per poll."
    )
