"""The gateway in the all-in-one process (what `exos up` serves on its port) mounts the
replay service's API and its player page with the page's assets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_gateway.app import create_app as create_gateway
from exos_gateway.settings import GatewaySettings
from exos_replay.app import create_app as create_replay


def test_portal_serves_the_replay_api_and_player_page(migrated_store: Store) -> None:
    migrated_store.insert(
        "otel_traces",
        [[1_795_000_000_000_000_000, "documentLoad", {"rum.sessionId": "s-portal"}]],
        ["Timestamp", "SpanName", "ResourceAttributes"],
    )
    replay = create_replay(store=migrated_store)
    with (
        TestClient(replay),
        TestClient(
            create_gateway(GatewaySettings(gateway_auth="none"), services=[replay])
        ) as portal,
    ):
        listed = portal.get("/api/sessions").json()
        assert [s["session_id"] for s in listed["sessions"]] == ["s-portal"]
        page = portal.get("/replay/s-portal")
        assert page.status_code == 200 and 'data-session="s-portal"' in page.text
        assert portal.get("/replay/assets/player.js").status_code == 200
        assert portal.get("/replay/nobody").status_code == 404
        assert portal.get("/healthz").status_code == 200  # the gateway's own, not replay's
