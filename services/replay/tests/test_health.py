"""The service starts on a given store and reports ready."""

from __future__ import annotations

from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_replay.app import create_app


def test_ready_on_a_given_store(migrated_store: Store) -> None:
    with TestClient(create_app(store=migrated_store)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
