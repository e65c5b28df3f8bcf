"""`exos up` killed with SIGKILL while the writer is behind, started again on the same
data folder: every span ingest acknowledged with 200 is stored exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from .test_up import Up

REQUESTS = 60
SPANS_PER_REQUEST = 50
SESSIONS = 8
ACKNOWLEDGED = REQUESTS * SPANS_PER_REQUEST  # 3000
STORED = (
    "SELECT count(), uniqExact(SpanId) FROM otel_traces WHERE ScopeName != 'exos-enrich'"
    " AND ResourceAttributes['rum.sessionId'] LIKE 'kill-%'"
)


def spans(request: int) -> dict[str, object]:
    """One request of one session; span ids are unique over the whole load."""
    now = time.time_ns()
    first = request * SPANS_PER_REQUEST
    resource = [
        {"key": "service.name", "value": {"stringValue": "web"}},
        {"key": "rum.sessionId", "value": {"stringValue": f"kill-{request % SESSIONS}"}},
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": f"{request + 1:032x}",
                                "spanId": f"{first + i + 1:016x}",
                                "name": "HTTP GET",
                                "startTimeUnixNano": str(now + i),
                                "endTimeUnixNano": str(now + i + 1000),
                            }
                            for i in range(SPANS_PER_REQUEST)
                        ]
                    }
                ],
            }
        ]
    }


def stored(up: Up) -> tuple[int, int]:
    client = up.clickhouse_client()
    count, unique = client.query(STORED).result_rows[0]
    return int(count), int(unique)


def test_sigkill_while_the_writer_is_behind_loses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches close on rows during the load (some inserted and committed, maybe one
    # inserted but not committed at the kill); the rest waits on an age never reached.
    monkeypatch.setenv("EXOS_WRITER_BATCH_ROWS", "140")
    monkeypatch.setenv("EXOS_WRITER_BATCH_AGE_S", "600")
    up = Up(tmp_path / "data")
    up.start()
    assert up.process is not None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{up.ports['otlp']}") as otlp:
            for request in range(REQUESTS):
                response = otlp.post("/v1/traces", json=spans(request))
                assert response.status_code == 200, response.text
        before_kill = stored(up)
    finally:
        up.process.kill()  # SIGKILL: no drain, no flush, no commit
        up.process.wait(30)
    assert before_kill[0] < ACKNOWLEDGED, "the writer was not behind: the test proves nothing"
    assert "bus_log_recovered" in up.log.read_text()

    monkeypatch.setenv("EXOS_WRITER_BATCH_AGE_S", "0.2")
    up.start()
    try:
        deadline = time.monotonic() + 60
        while stored(up)[0] < ACKNOWLEDGED and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(2)  # a duplicate would arrive after the last missing row
        assert stored(up) == (ACKNOWLEDGED, ACKNOWLEDGED)
        recoveries = [
            json.loads(line)
            for line in up.log.read_text().splitlines()
            if '"bus_log_recovered"' in line
        ]
        assert recoveries[-1]["records"] > 0  # the restart read unfinished records back
    finally:
        assert up.interrupt() == 0, up.log.read_text()[-3000:]
    assert before_kill[0] == before_kill[1]
