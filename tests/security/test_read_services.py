"""The read services behind the gateway, attacked from inside the cluster and through the
gateway with each role's local token, in both modes:

- distributed: replay, query-api and insights on their own sockets with the gateway's
  secret, the gateway (local tokens) forwarding to them;
- all-in-one: the gateway mounting their routes in its own process, as `exos up` does.

Expected values come from the one hand-built session of `world`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from exos_common.service.pii import MASK
from exos_common.service.trust import CREDENTIAL_HEADER
from exos_common.settings import ServiceTrustSettings
from exos_common.store import Store
from exos_common.testing.servers import serve_in_thread
from exos_common.testing.stores import open_migrated_store
from exos_gateway.app import create_app as create_gateway
from exos_gateway.settings import GatewaySettings
from exos_insights.app import create_app as create_insights
from exos_query_api.app import create_app as create_query_api
from exos_replay.app import create_app as create_replay

from .world import (
    EMAIL,
    IP,
    NAME,
    SERVICE_SECRET,
    SESSION,
    TOKEN_ENTRIES,
    UID,
    bearer,
    write_reference_session,
)

TRUST = ServiceTrustSettings(service_secret=SecretStr(SERVICE_SECRET))


@pytest.fixture(scope="module")
def world_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "security")
    write_reference_session(store)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


@pytest.fixture(scope="module")
def readers(world_store: Store) -> Iterator[dict[str, str]]:
    """The three read services on real sockets, requiring the gateway's secret."""
    with ExitStack() as stack:
        yield {
            "query-api": stack.enter_context(
                serve_in_thread(create_query_api(store=world_store, trust=TRUST))
            ),
            "replay": stack.enter_context(
                serve_in_thread(create_replay(store=world_store, trust=TRUST))
            ),
            "insights": stack.enter_context(
                serve_in_thread(create_insights(store=world_store, trust=TRUST))
            ),
        }


@pytest.fixture(scope="module")
def distributed(readers: dict[str, str]) -> Iterator[TestClient]:
    settings = GatewaySettings(
        gateway_auth="tokens",
        gateway_tokens=SecretStr(TOKEN_ENTRIES),
        service_secret=SecretStr(SERVICE_SECRET),
        query_api_url=readers["query-api"],
        replay_url=readers["replay"],
        insights_url=readers["insights"],
    )
    with TestClient(create_gateway(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def all_in_one(world_store: Store) -> Iterator[TestClient]:
    """No secret anywhere: the routes run inside the gateway's process."""
    services = [
        create_query_api(store=world_store, trust=ServiceTrustSettings()),
        create_replay(store=world_store, trust=ServiceTrustSettings()),
        create_insights(store=world_store, trust=ServiceTrustSettings()),
    ]
    settings = GatewaySettings(gateway_auth="tokens", gateway_tokens=SecretStr(TOKEN_ENTRIES))
    with ExitStack() as stack:
        for service in services:
            stack.enter_context(TestClient(service))
        yield stack.enter_context(TestClient(create_gateway(settings, services=services)))


@pytest.fixture(params=["distributed", "all_in_one"])
def portal(request: pytest.FixtureRequest) -> TestClient:
    client: TestClient = request.getfixturevalue(request.param)
    return client


# --- direct access to the read services, bypassing the gateway ---------------------------

DIRECT_PATHS = {
    "query-api": "/api/stats",
    "replay": "/api/sessions",
    "insights": "/api/insights/cookbook",
}


@pytest.mark.parametrize("service", sorted(DIRECT_PATHS))
def test_a_read_service_refuses_callers_without_the_gateway_credential(
    readers: dict[str, str], service: str
) -> None:
    url = readers[service] + DIRECT_PATHS[service]
    # Forged identity headers do not help: only the credential opens the door.
    forged = {"x-exos-role": "admin", "x-exos-user": "admin", "x-forwarded-for": "10.0.0.1"}
    missing = httpx.get(url, headers=forged)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "service_credential_missing"
    wrong = httpx.get(url, headers={**forged, CREDENTIAL_HEADER: "guessed"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "service_credential_invalid"
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(readers[service] + probe).status_code == 200, probe


def test_many_wrong_credentials_leave_the_service_healthy(readers: dict[str, str]) -> None:
    base = readers["replay"]
    with httpx.Client(base_url=base) as client:
        codes = {
            client.get("/api/sessions", headers={CREDENTIAL_HEADER: f"guess-{i}"}).status_code
            for i in range(200)
        }
        assert codes == {401}
        assert client.get("/healthz").status_code == 200
        right = client.get(
            "/api/sessions", headers={CREDENTIAL_HEADER: SERVICE_SECRET, "x-exos-role": "admin"}
        )
        assert right.status_code == 200
        assert right.json()["total"] == 1


def test_the_gateway_is_ready_and_documents_the_read_services(distributed: TestClient) -> None:
    # Its readiness and merged OpenAPI reach the read services with the credential.
    assert distributed.get("/readyz").json()["status"] == "ready"
    paths = distributed.get("/openapi.json", headers=bearer("viewer")).json()["paths"]
    assert "/api/sessions" in paths and "/api/insights/sql" in paths


# --- personal data by role, through the gateway -------------------------------------------


def test_a_viewer_sees_sessions_with_personal_data_masked(portal: TestClient) -> None:
    listed = portal.get("/api/sessions", headers=bearer("viewer"))
    assert listed.status_code == 200
    [session] = listed.json()["sessions"]
    assert session["session_id"] == SESSION
    assert session["identity"] == {"email": MASK, "name": MASK, "uid": UID}
    assert session["visitor"]["ip"] == MASK
    assert session["visitor"]["city"] == "Chicago"  # coarse location stays
    detail = portal.get(f"/api/sessions/{SESSION}", headers=bearer("viewer")).json()
    assert detail["identity"] == {"email": MASK, "name": MASK, "uid": UID}
    assert detail["visitor"]["ip"] == MASK
    assert EMAIL not in listed.text and EMAIL not in str(detail)


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_analysts_and_admins_see_personal_data(portal: TestClient, role: str) -> None:
    [session] = portal.get("/api/sessions", headers=bearer(role)).json()["sessions"]
    assert session["identity"] == {"email": EMAIL, "name": NAME, "uid": UID}
    assert session["visitor"]["ip"] == IP
    detail = portal.get(f"/api/sessions/{SESSION}", headers=bearer(role)).json()
    assert detail["identity"]["email"] == EMAIL


def test_a_viewer_cannot_find_a_person_by_searching(portal: TestClient) -> None:
    found = portal.get("/api/sessions", params={"user": "ann@"}, headers=bearer("viewer"))
    assert found.status_code == 403
    assert "searching by user" in found.json()["error"]["message"]
    ok = portal.get("/api/sessions", params={"user": "ann@"}, headers=bearer("analyst"))
    assert ok.status_code == 200 and ok.json()["total"] == 1


@pytest.mark.parametrize(
    "path",
    [
        f"/api/sessions/{SESSION}/events",
        f"/api/sessions/{SESSION}/tabs/network",
        f"/api/sessions/{SESSION}/heatbar",
        f"/replay/{SESSION}",
    ],
)
def test_a_viewer_is_refused_the_replay(portal: TestClient, path: str) -> None:
    refused = portal.get(path, headers=bearer("viewer"))
    assert refused.status_code == 403
    assert "a session's replay shows personal data" in refused.json()["error"]["message"]
    assert portal.get(path, headers=bearer("analyst")).status_code == 200


def test_a_forged_role_header_from_outside_changes_nothing(portal: TestClient) -> None:
    forged = {**bearer("viewer"), "x-exos-role": "admin", "x-exos-user": "someone-else"}
    [session] = portal.get("/api/sessions", headers=forged).json()["sessions"]
    assert session["identity"]["email"] == MASK
    assert portal.get(f"/api/sessions/{SESSION}/events", headers=forged).status_code == 403


def test_a_credential_sent_from_outside_is_not_passed_on(distributed: TestClient) -> None:
    # The browser cannot pick its own credential: the gateway sends its own.
    sent = {**bearer("viewer"), CREDENTIAL_HEADER: "attacker-chosen"}
    assert distributed.get("/api/sessions", headers=sent).status_code == 200


def test_a_viewer_is_refused_the_console_by_the_gateway(portal: TestClient) -> None:
    refused = portal.post("/api/insights/sql", json={"sql": "SELECT 1"}, headers=bearer("viewer"))
    assert refused.status_code == 403
    assert "viewer-user has the viewer role; this needs analyst" in refused.text


def test_narrower_pii_roles_mask_for_analysts_too(world_store: Store) -> None:
    only_admins = ServiceTrustSettings(service_secret=SecretStr(SERVICE_SECRET), pii_roles="admin")
    with serve_in_thread(create_replay(store=world_store, trust=only_admins)) as replay_url:
        head = {CREDENTIAL_HEADER: SERVICE_SECRET}
        analyst = httpx.get(
            f"{replay_url}/api/sessions", headers={**head, "x-exos-role": "analyst"}
        )
        assert analyst.json()["sessions"][0]["identity"]["email"] == MASK
        admin = httpx.get(f"{replay_url}/api/sessions", headers={**head, "x-exos-role": "admin"})
        assert admin.json()["sessions"][0]["identity"]["email"] == EMAIL
    with serve_in_thread(create_insights(store=world_store, trust=only_admins)) as insights_url:
        console = httpx.post(
            f"{insights_url}/api/insights/sql",
            json={"sql": "SELECT 1"},
            headers={**head, "x-exos-role": "analyst"},
        )
        assert console.status_code == 403
        assert "the SQL console and Ask AI shows personal data" in console.text
