"""Distributed start-up (API keys or an explicit anonymous switch) and the CORS
allowlist, in both modes: the app given a bus (all-in-one, tests) and the app owning its
bus (`exos serve ingest`; the Kafka bus is swapped for an in-process one here, the Kafka
tests run the real one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import ingest_samples as sample
import pytest
from ingest_testkit import API_KEY, settings_for
from pydantic import ValidationError

from exos_common.bus import create_bus
from exos_ingest import app as app_module
from exos_ingest.app import create_app
from exos_ingest.settings import IngestSettings

PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
}
BODY = sample.json_bytes(sample.hyperdx_traces())
JSON = {"content-type": "application/json", "authorization": API_KEY}

Serve = Callable[..., Any]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Serve:
    """`async with serve(settings) as client`: ingest as `exos serve ingest` builds it."""
    monkeypatch.setattr(app_module, "create_bus", lambda kind, settings: create_bus("memory"))

    @asynccontextmanager
    async def running(settings: IngestSettings | None = None) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client

    return running


def _clear_ingest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXOS_INGEST_API_KEYS", "EXOS_INGEST_ALLOW_ANONYMOUS", "EXOS_INGEST_CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("keys", [None, "", " , ,"])
def test_distributed_ingest_refuses_to_start_without_keys(keys: str | None) -> None:
    with pytest.raises(ValueError) as refused:
        create_app(IngestSettings(ingest_api_keys=keys))
    assert "EXOS_INGEST_API_KEYS" in str(refused.value)
    assert "EXOS_INGEST_ALLOW_ANONYMOUS=true" in str(refused.value)


def test_serve_reads_the_refusal_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_ingest_env(monkeypatch)
    with pytest.raises(ValueError, match="refuses to start without API keys"):
        create_app()  # what `exos serve ingest` calls
    monkeypatch.setenv("EXOS_INGEST_ALLOW_ANONYMOUS", "false")
    with pytest.raises(ValueError, match="refuses to start without API keys"):
        create_app()
    monkeypatch.setenv("EXOS_INGEST_ALLOW_ANONYMOUS", "maybe")
    with pytest.raises(ValidationError, match="ingest_allow_anonymous"):
        create_app()


async def test_anonymous_must_be_switched_on_and_then_is_open(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_ingest_env(monkeypatch)
    monkeypatch.setenv("EXOS_INGEST_ALLOW_ANONYMOUS", "true")
    async with serve() as client:
        ok = await client.post(
            "/v1/traces", content=BODY, headers={"content-type": "application/json"}
        )
        assert ok.status_code == 200


async def test_with_keys_distributed_ingest_starts_and_enforces_them(serve: Serve) -> None:
    async with serve(IngestSettings(ingest_api_keys=API_KEY)) as client:
        assert (await client.post("/v1/traces", content=BODY, headers=JSON)).status_code == 200
        anonymous = await client.post(
            "/v1/traces", content=BODY, headers={"content-type": "application/json"}
        )
        assert anonymous.status_code == 401


async def test_all_in_one_runs_open_without_the_switch(make_client: Any) -> None:
    client = await make_client(ingest_api_keys=None, ingest_allow_anonymous=False)
    ok = await client.post("/v1/traces", content=BODY, headers={"content-type": "application/json"})
    assert ok.status_code == 200


async def test_distributed_default_grants_no_origin(serve: Serve) -> None:
    async with serve(IngestSettings(ingest_api_keys=API_KEY)) as client:
        preflight = await client.options(
            "/v1/traces", headers={"origin": "https://shop.example", **PREFLIGHT}
        )
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        # CORS is not authentication: a keyed request is taken, the browser gets no grant.
        posted = await client.post(
            "/v1/traces", content=BODY, headers={**JSON, "origin": "https://shop.example"}
        )
        assert posted.status_code == 200
        assert "access-control-allow-origin" not in posted.headers


async def test_distributed_star_must_be_said_and_then_is_any(serve: Serve) -> None:
    async with serve(IngestSettings(ingest_api_keys=API_KEY, ingest_cors_origins="*")) as client:
        preflight = await client.options(
            "/v1/traces", headers={"origin": "https://any.example", **PREFLIGHT}
        )
        assert preflight.headers["access-control-allow-origin"] == "*"


async def test_all_in_one_default_is_any_origin(make_client: Any) -> None:
    client = await make_client()
    preflight = await client.options(
        "/v1/traces", headers={"origin": "http://localhost:3000", **PREFLIGHT}
    )
    assert preflight.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("distributed", [True, False])
async def test_allowlist_grants_listed_origins_only(
    distributed: bool, serve: Serve, make_client: Any
) -> None:
    origins = "https://shop.example, https://admin.example:8443"
    if distributed:
        context = serve(settings_for(ingest_cors_origins=origins))
        client = await context.__aenter__()
    else:
        client = await make_client(ingest_cors_origins=origins)
    try:
        for origin in ("https://shop.example", "https://admin.example:8443"):
            granted = await client.options("/v1/logs", headers={"origin": origin, **PREFLIGHT})
            assert granted.status_code == 200
            assert granted.headers["access-control-allow-origin"] == origin
            posted = await client.post(
                "/v1/traces", content=BODY, headers={**JSON, "origin": origin}
            )
            assert posted.headers["access-control-allow-origin"] == origin
            assert "origin" in posted.headers["vary"].lower()
        # Near misses: another scheme, port, a subdomain, a suffix.
        for origin in (
            "http://shop.example",
            "https://admin.example",
            "https://evil.shop.example",
            "https://shop.example.evil",
            "null",
        ):
            refused = await client.options("/v1/traces", headers={"origin": origin, **PREFLIGHT})
            assert refused.status_code == 400, origin
            assert "access-control-allow-origin" not in refused.headers
            posted = await client.post(
                "/v1/traces", content=BODY, headers={**JSON, "origin": origin}
            )
            assert posted.status_code == 200
            assert "access-control-allow-origin" not in posted.headers, origin
    finally:
        if distributed:
            await context.__aexit__(None, None, None)


@pytest.mark.parametrize(
    "origins",
    [
        "shop.example",
        "https://shop.example/",
        "https://shop.example/path",
        "https://",
        "*.example",
        "https://*.example",
        "http://[::1",
    ],
)
def test_values_that_are_not_origins_are_refused(origins: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        IngestSettings(ingest_cors_origins=f"https://ok.example,{origins}")


def test_ports_and_ipv6_literals_are_origins() -> None:
    origins = "http://localhost:3000,http://[::1]:5173,https://192.0.2.7"
    settings = IngestSettings(ingest_cors_origins=origins)
    assert settings.cors_origins(distributed=True) == origins.split(",")


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_INGEST_CORS_ORIGINS", "https://shop.example,*")
    settings = IngestSettings()
    assert settings.cors_origins(distributed=True) == ["https://shop.example", "*"]
    monkeypatch.setenv("EXOS_INGEST_CORS_ORIGINS", "")  # empty is unset: the mode's default
    settings = IngestSettings()
    assert settings.cors_origins(distributed=True) == []
    assert settings.cors_origins(distributed=False) == ["*"]
