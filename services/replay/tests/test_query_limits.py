"""Every replay statement runs within EXOS_QUERY_* limits; one a limit stops answers
with the reason (real statements on chDB, the module's hand-built sessions)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from replay_fixtures import T0, S, SessionRows, record_page

from exos_common.store import Store
from exos_replay.app import create_app
from exos_replay.settings import ReplaySettings


def sessions(
    store: Store, path: str = "/api/sessions", **limits: float
) -> tuple[int, dict[str, object]]:
    settings = ReplaySettings.model_validate(limits)
    with TestClient(create_app(settings, store=store)) as client:
        response = client.get(path)
    return response.status_code, response.json()


def test_within_the_defaults_the_sessions_are_listed(fixture_store: Store) -> None:
    status, body = sessions(fixture_store)
    assert status == 200 and body["sessions"]


def test_reading_more_rows_than_allowed_is_a_422_with_the_reason(fixture_store: Store) -> None:
    status, body = sessions(fixture_store, query_max_rows_to_read=1)
    assert status == 422
    assert body["error"]["message"].startswith(  # type: ignore[index]
        "query limit exceeded: rows read (EXOS_QUERY_MAX_ROWS_TO_READ): "
    )


def test_using_more_memory_than_allowed_is_a_503_with_the_reason(fixture_store: Store) -> None:
    # A recording with an 8 MB full snapshot: reading its chunks takes more than 1 MiB.
    big = SessionRows("fix-session-big", T0 + 10_800 * S)
    record_page(big, "x" * 8_000_000, 60, snapshot_chunks=8)
    big.write(fixture_store)
    events = "/api/sessions/fix-session-big/events"
    assert sessions(fixture_store, events)[0] == 200
    status, body = sessions(fixture_store, events, query_max_memory_usage=1024**2)
    assert status == 503
    assert body["error"]["message"].startswith(  # type: ignore[index]
        "query limit exceeded: memory (EXOS_QUERY_MAX_MEMORY_USAGE): "
    )


def test_running_longer_than_allowed_is_a_503_with_the_reason(fixture_store: Store) -> None:
    status, body = sessions(fixture_store, query_max_execution_time_s=0.001)
    assert status == 503
    assert body["error"]["message"].startswith(  # type: ignore[index]
        "query limit exceeded: time (EXOS_QUERY_MAX_EXECUTION_TIME_S): "
    )
