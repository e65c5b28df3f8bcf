"""`GET /api/stats` on the hand-built world."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_common.testing import dates
from exos_query_api.app import create_app

sys.path.insert(0, str(Path(__file__).parent))

import analytics_world as world


def test_stats_of_the_three_tables(migrated_store: Store) -> None:
    world.load(migrated_store)
    with TestClient(create_app(store=migrated_store)) as client:
        response = client.get("/api/stats", params=world.RANGE)
        assert response.status_code == 200, response.text
        tables = {t["table"]: t for t in response.json()["tables"]}
        traces, logs, replay = (
            tables["otel_traces"],
            tables["otel_logs"],
            tables["hyperdx_sessions"],
        )
        # 12 + 5 + 7 + 10 spans; 4 error spans; 4 error logs + 1 warning in S2, S3, S4.
        assert (traces["rows"], traces["sessions"], traces["errors"]) == (34, 4, 4)
        assert (traces["first"][:19], traces["last"][:19]) == (
            dates.iso(0, "09:00:00"),
            dates.iso(7, "11:00:20"),
        )
        assert (logs["rows"], logs["sessions"], logs["errors"]) == (5, 3, 4)
        assert (replay["rows"], replay["sessions"]) == (2, 1)
        assert traces["total_rows"] == 34 and traces["bytes_on_disk"] > 0
        assert tables["span_facts"]["total_rows"] == 34
        assert tables["span_facts"]["rows"] is None
        # Week 2 alone.
        week2 = client.get(
            "/api/stats", params={"from": dates.iso(7, "00:00:00Z"), "to": world.RANGE_TO}
        ).json()
        assert [t["rows"] for t in week2["tables"][:3]] == [17, 4, 0]
        assert week2["tables"][2]["first"] is None


QUARANTINE_COLUMNS = [
    "quarantined_at",
    "target_table",
    "topic",
    "partition",
    "offset",
    "row_index",
    "error_class",
    "error_code",
    "error_name",
    "error_text",
    "message_key",
    "raw_message",
]


def quarantined(day: int, table: str, offset: int, code: int, name: str) -> list[object]:
    topic = {"otel_logs": "logs.enriched", "otel_traces": "spans.enriched"}[table]
    text = f"Code: {code}. DB::Exception: {name} at offset {offset}"
    return [dates.on(day, 12), table, topic, 0, offset, -1, "data", code, name, text, "", ""]


def test_stats_count_quarantined_records_by_table_and_reason(migrated_store: Store) -> None:
    migrated_store.insert(
        "exos_quarantine",
        [
            quarantined(1, "otel_logs", 7, 321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
            quarantined(2, "otel_logs", 9, 321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
            quarantined(3, "otel_traces", 4, 27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"),
            quarantined(30, "otel_traces", 5, 27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"),
        ],
        QUARANTINE_COLUMNS,
    )
    with TestClient(create_app(store=migrated_store)) as client:
        body = client.get("/api/stats", params=world.RANGE).json()
    # The fourth record was quarantined after the range ends (day 30 > day 18).
    assert [
        (g["target_table"], g["error_name"], g["error_class"], g["records"], g["last_at"][:19])
        for g in body["quarantine"]
    ] == [
        ("otel_logs", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE", "data", 2, dates.iso(2, "12:00:00")),
        ("otel_traces", "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "data", 1, dates.iso(3, "12:00:00")),
    ]
    assert body["quarantine"][1]["example"].startswith("Code: 27.")
    assert any("exos_quarantine" in q["sql"] for q in body["queries"])
