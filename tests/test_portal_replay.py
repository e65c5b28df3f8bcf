"""The portal (what `exos up` serves on its port) carries the replay service's API and
its player page with the page's assets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from exos.portal import create_portal
from exos_common.store import Store
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
        TestClient(create_portal(migrated_store, services=[replay], mode="test")) as portal,
    ):
        listed = portal.get("/api/sessions").json()
        assert [s["session_id"] for s in listed["sessions"]] == ["s-portal"]
        page = portal.get("/replay/s-portal")
        assert page.status_code == 200 and 'data-session="s-portal"' in page.text
        assert portal.get("/replay/assets/player.js").status_code == 200
        assert portal.get("/replay/nobody").status_code == 404
        assert portal.get("/healthz").status_code == 200  # the portal's own, not replay's
