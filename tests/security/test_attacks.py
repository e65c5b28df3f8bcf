"""The attack classes, run against real processes: `exos up` (one process) and the
distributed read side (`exos serve` query-api, replay, insights and the gateway on the
embedded ClickHouse server). Each attack asserts the refusal (status and reason) and,
after it, that the platform still answers its probes and a legitimate request.

The unit tests of each defence live with its code (gateway: tokens, OIDC, roles, CSRF,
headers; ingest: keys, CORS, rate limit; `tests/gateway/test_up_host_names.py`); this
suite checks the deployed whole refuses them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from exos_common.service.trust import CREDENTIAL_HEADER
from exos_common.testing.clickhouse import ClickHouseServer
from exos_common.testing.issuer import AUDIENCE, Issuer
from exos_common.testing.processes import prepare_database
from exos_common.testing.servers import serve_in_thread

from .platforms import API_KEY, SITE, ReadSide, UpProcess
from .world import SERVICE_SECRET, TOKENS, bearer

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
EVIL = "https://evil.example.test"


def _error(answer: httpx.Response) -> tuple[int, str, str]:
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"]


def _has_security_headers(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (answer.request.url, name)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy


# --- exos up -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    platform = UpProcess(tmp_path_factory.mktemp("up") / "data").start()
    try:
        yield platform
    finally:
        assert platform.stop() == 0, platform.log.read_text()[-3000:]


@pytest.fixture
def portal(up: UpProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=up.portal, timeout=30) as client:
        yield client
    # Whatever the attack, the platform still answers, and answers a legitimate caller.
    assert up.healthy()
    assert httpx.get(f"{up.portal}/api/sessions", headers=bearer("analyst")).status_code == 200


def test_up_refuses_callers_without_a_valid_token(portal: httpx.Client) -> None:
    anonymous = portal.get("/api/sessions")
    assert _error(anonymous)[:2] == (401, "unauthorized")
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="exos"'
    guessed = portal.get("/api/sessions", headers={"authorization": "Bearer tok-viewer-90"})
    assert _error(guessed)[:2] == (401, "unauthorized")
    page = portal.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F"


def test_up_refuses_a_viewer_the_console_and_the_replay(portal: httpx.Client) -> None:
    console = portal.post("/api/insights/sql", json={"sql": "SELECT 1"}, headers=bearer("viewer"))
    status, code, message = _error(console)
    assert (status, code) == (403, "forbidden")
    assert message == "viewer-user has the viewer role; this needs analyst"
    replay = portal.get("/api/sessions/any-session/events", headers=bearer("viewer"))
    assert replay.status_code == 403
    assert "a session's replay shows personal data" in replay.json()["error"]["message"]


def test_up_refuses_a_forged_sign_out_and_cross_site_posts(portal: httpx.Client) -> None:
    signed_in = portal.post("/auth/login", data={"token": TOKENS["analyst"]})
    assert signed_in.status_code == 303
    assert portal.cookies.get("exos_session")
    forged = portal.post("/auth/logout", data={"csrf": "guessed"})
    assert forged.status_code == 403 and "Sign-out refused" in forged.text
    cross_site = portal.post("/auth/logout", headers={"origin": EVIL})
    assert _error(cross_site) == (403, "foreign_origin", f"requests from {EVIL} are refused")
    # The session survived both.
    assert portal.get("/api/sessions").status_code == 200
    portal.cookies.clear()


def test_up_sends_the_security_headers_on_every_kind_of_answer(portal: httpx.Client) -> None:
    for answer in (
        portal.get("/login"),
        portal.get("/api/sessions"),  # a 401
        portal.get("/api/sessions", headers=bearer("admin")),
        portal.get("/assets/portal.css"),
    ):
        _has_security_headers(answer)


def test_up_refuses_other_host_names(up: UpProcess, portal: httpx.Client) -> None:
    # A page of another site that points its name at 127.0.0.1 (DNS rebinding).
    rebound = portal.get("/healthz", headers={"host": "evil.example.test"})
    assert rebound.status_code == 400 and rebound.text == "Invalid host header"
    assert (
        portal.get("/healthz", headers={"host": f"localhost:{up.ports['port']}"}).status_code == 200
    )


def _spans(count: int) -> bytes:
    now = time.time_ns()
    spans = [
        {
            "traceId": uuid.uuid4().hex,
            "spanId": uuid.uuid4().hex[:16],
            "name": "click",
            "kind": 1,
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 1000),
        }
        for _ in range(count)
    ]
    resource = {"attributes": [{"key": "rum.sessionId", "value": {"stringValue": "attack-s1"}}]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    )


JSON = {"content-type": "application/json"}


def test_up_ingest_refuses_data_without_a_key(up: UpProcess) -> None:
    for authorization in (None, "Bearer not-a-key", API_KEY + "x"):
        headers = JSON | ({"authorization": authorization} if authorization else {})
        answer = httpx.post(f"{up.otlp}/v1/traces", content=_spans(1), headers=headers)
        assert answer.status_code == 401
        assert "missing or unknown API key" in answer.text
    assert up.healthy()


def test_up_ingest_grants_cors_only_to_the_configured_site(up: UpProcess) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    foreign = httpx.options(f"{up.otlp}/v1/traces", headers={"origin": EVIL, **preflight})
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    own = httpx.options(f"{up.otlp}/v1/traces", headers={"origin": SITE, **preflight})
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == SITE
    assert up.healthy()


def test_up_ingest_rate_limits_a_key(up: UpProcess) -> None:
    keyed = JSON | {"authorization": API_KEY}
    answers = [
        httpx.post(f"{up.otlp}/v1/traces", content=_spans(10), headers=keyed, timeout=30)
        for _ in range(3)
    ]
    assert answers[0].status_code == 200
    limited = answers[-1]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "EXOS_INGEST_RATE_LIMIT_RECORDS_PER_S" in limited.text
    assert up.healthy()


# --- the distributed read side --------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    the_issuer = Issuer()
    with serve_in_thread(the_issuer.app()) as url:
        the_issuer.url = url
        yield the_issuer


@pytest.fixture(scope="module")
def read_side(
    clickhouse_server: ClickHouseServer, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReadSide]:
    database = f"security_{uuid.uuid4().hex[:8]}"
    prepare_database(clickhouse_server.url, database)
    env = {
        **os.environ,
        "EXOS_CLICKHOUSE_URL": clickhouse_server.url,
        "EXOS_CLICKHOUSE_DATABASE": database,
    }
    side = ReadSide(env, tmp_path_factory.mktemp("read-side"), issuer.url, AUDIENCE).start()
    try:
        yield side
    finally:
        side.stop()


@pytest.fixture
def gateway(read_side: ReadSide) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=read_side.gateway.url, timeout=30) as client:
        yield client
    ready = httpx.get(f"{read_side.gateway.url}/readyz").json()
    assert ready["status"] == "ready", ready
    for reader in read_side.readers.values():
        assert httpx.get(f"{reader.url}/readyz").status_code == 200


@pytest.mark.clickhouse_server
def test_read_services_refuse_direct_callers(read_side: ReadSide) -> None:
    forged = {"x-exos-role": "admin", "x-exos-user": "admin"}
    for name, reader in read_side.readers.items():
        path = {"query-api": "/api/stats", "replay": "/api/sessions", "insights": "/api/insights"}[
            name
        ]
        missing = httpx.get(reader.url + path, headers=forged)
        assert _error(missing)[:2] == (401, "service_credential_missing"), name
        wrong = httpx.get(reader.url + path, headers={**forged, CREDENTIAL_HEADER: "guess"})
        assert _error(wrong)[:2] == (401, "service_credential_invalid"), name
        for probe in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(reader.url + probe).status_code == 200, (name, probe)
        right = httpx.get(reader.url + path, headers={CREDENTIAL_HEADER: SERVICE_SECRET})
        assert right.status_code == 200, name


@pytest.mark.clickhouse_server
def test_the_gateway_refuses_missing_foreign_expired_and_forged_tokens(
    gateway: httpx.Client, issuer: Issuer
) -> None:
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "none": {},
        "foreign audience": {"authorization": f"Bearer {issuer.token(aud='api://another-app')}"},
        "expired": {"authorization": f"Bearer {issuer.token(exp=now - 600, iat=now - 900)}"},
        "other signer": {"authorization": f"Bearer {issuer.token(key=other_key)}"},
        "other issuer": {
            "authorization": f"Bearer {issuer.token(iss='https://evil.example.test')}"
        },
    }
    for attack, headers in refused.items():
        answer = gateway.get("/api/sessions", headers=headers)
        assert _error(answer)[:2] == (401, "unauthorized"), attack
    accepted = gateway.get("/api/sessions", headers={"authorization": f"Bearer {issuer.token()}"})
    assert accepted.status_code == 200


@pytest.mark.clickhouse_server
def test_the_gateway_refuses_a_viewer_the_console_and_lets_an_analyst_in(
    gateway: httpx.Client, issuer: Issuer
) -> None:
    viewer = {"authorization": f"Bearer {issuer.token(roles=['viewer'], preferred_username='ann')}"}
    console = gateway.post("/api/insights/sql", json={"sql": "SELECT 1 AS one"}, headers=viewer)
    assert _error(console) == (403, "forbidden", "ann has the viewer role; this needs analyst")
    analyst = gateway.post(
        "/api/insights/sql", json={"sql": "SELECT 1 AS one"}, headers=bearer("analyst")
    )
    assert analyst.status_code == 200, analyst.text


@pytest.mark.clickhouse_server
def test_the_gateway_refuses_cross_site_posts_and_sends_security_headers(
    gateway: httpx.Client,
) -> None:
    cross_site = gateway.post(
        "/api/insights/sql", json={"sql": "SELECT 1"}, headers={**bearer("admin"), "origin": EVIL}
    )
    assert _error(cross_site) == (403, "foreign_origin", f"requests from {EVIL} are refused")
    forged_sign_out = gateway.post("/auth/logout", data={"csrf": "guessed"})
    assert forged_sign_out.status_code == 403
    for answer in (
        cross_site,
        gateway.get("/api/sessions"),
        gateway.get("/api/sessions", headers=bearer("viewer")),  # proxied from replay
        gateway.get("/login"),
    ):
        _has_security_headers(answer)


@pytest.mark.clickhouse_server
def test_a_read_service_will_not_start_without_the_secret(
    clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("EXOS_SERVICE_SECRET", "EXOS_READ_ALLOW_ANONYMOUS")
    }
    env["EXOS_CLICKHOUSE_URL"] = clickhouse_server.url
    started = subprocess.run(
        [sys.executable, "-m", "exos", "serve", "replay", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert started.returncode != 0
    assert "replay refuses to start without EXOS_SERVICE_SECRET" in started.stderr
