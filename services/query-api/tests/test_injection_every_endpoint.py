"""SQL injection over every endpoint of query-api: the OpenAPI of `create_app()` is
walked, so a route added later is covered without touching this test. For every GET/POST
operation and every parameter (query, path, and string fields of a JSON body), classic
injections are sent in place of a benign value. The answer must be a 422, or a 200 that
says exactly what the benign value gets (the payload echoed back where the benign value
was, nothing more); never a 500. Afterwards the tables hold what they held."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_common.testing.stores import open_migrated_store
from exos_query_api.app import create_app

sys.path.insert(0, str(Path(__file__).parent))

import analytics_world as world

PAYLOADS = [
    "' OR 1=1 --",
    "x'); DROP TABLE otel_traces; --",
    "{start:String}",
    "\\' OR '1'='1",
    "trailing\\",
    "\u2019 OR 1=1 -- \u02bc\u201c",
    "1; SELECT * FROM system.tables",
    "%' OR SpanName LIKE '%",
    "a\x00b",
]
BENIGN = "zz-no-such-value"
SKIP_PATHS = {"/healthz", "/readyz", "/metrics"}
TABLES = ("otel_traces", "otel_logs", "hyperdx_sessions", "span_facts", "session_summary")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = create_app().openapi()
    found = []
    for path, item in spec["paths"].items():
        if path in SKIP_PATHS:
            continue
        for method, operation in item.items():
            if method in ("get", "post"):
                found.append((method, path, operation))
    return found


def _schema(spec_schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The parameter's schema with `$ref` resolved and a nullable `anyOf` unwrapped."""
    schema = spec_schema
    if "anyOf" in schema:
        schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), schema)
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def benign_value(schema: dict[str, Any], default: Any = None) -> Any:
    """A valid value for a parameter (its default, the first enum value, a number in
    range, a benign string)."""
    if default is not None:
        return default
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "array":
        return [BENIGN, BENIGN + "2"]
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return None
    return BENIGN


SPEC = create_app().openapi()
COMPONENTS = SPEC.get("components", {}).get("schemas", {})


def cases() -> Iterator[Any]:
    for method, path, operation in operations():
        for parameter in operation.get("parameters", []):
            yield pytest.param(
                method, path, parameter["name"], id=f"{method} {path} {parameter['name']}"
            )
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            schema = _schema(body["schema"], COMPONENTS)
            for name in schema.get("properties", {}):
                yield pytest.param(method, path, f"body.{name}", id=f"{method} {path} body.{name}")


@pytest.fixture(scope="module")
def world_store(chdb_path: Path) -> Iterator[Store]:
    store, settings = open_migrated_store(chdb_path, "inject")
    world.load(store)
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


@pytest.fixture(scope="module")
def client(world_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store=world_store), raise_server_exceptions=False) as test_client:
        yield test_client


def row_counts(store: Store) -> dict[str, int]:
    tables = {
        r[0]
        for r in store.query_rows(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
        )
    }
    assert set(TABLES) <= tables, tables
    return {t: int(store.query_rows(f"SELECT count() FROM {t}")[0][0]) for t in TABLES}


class Request:
    """One operation's request: benign values for everything, one slot replaceable."""

    def __init__(self, method: str, path: str) -> None:
        self.method, self.path = method, path
        operation = SPEC["paths"][path][method]
        self.query: dict[str, Any] = dict(world.RANGE)
        self.path_values: dict[str, Any] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        for parameter in operation.get("parameters", []):
            schema = _schema(parameter.get("schema", {}), COMPONENTS)
            self.schemas[parameter["name"]] = schema
            value = benign_value(schema, parameter.get("schema", {}).get("default"))
            if parameter["in"] == "path":
                self.path_values[parameter["name"]] = value
            elif parameter.get("required") and value is not None:
                self.query[parameter["name"]] = value
        self.body: dict[str, Any] | None = None
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content:
            schema = _schema(content["schema"], COMPONENTS)
            required = set(schema.get("required", []))
            self.body = {}
            for name, prop in schema.get("properties", {}).items():
                resolved = _schema(prop, COMPONENTS)
                self.schemas[f"body.{name}"] = resolved
                value = benign_value(resolved, prop.get("default"))
                if name in required and value is not None:
                    self.body[name] = value

    def send(self, client: TestClient, slot: str, value: str) -> Any:
        query, body, path_values = dict(self.query), dict(self.body or {}), dict(self.path_values)
        as_list = self.schemas.get(slot, {}).get("type") == "array"
        filled: Any = [value, BENIGN] if as_list else value
        if slot.startswith("body."):
            body[slot[5:]] = filled
        elif slot in path_values:
            path_values[slot] = value
        else:
            query[slot] = filled
        url = self.path.format(**path_values)
        if self.method == "post":
            return client.post(url, params=query, json=body)
        return client.get(url, params=query)


def comparable(response: Any, payload: str) -> str:
    """The body without the SQL it ran, the payload written back as the benign value
    (a non-JSON body, e.g. an XES export, as text)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        text = str(response.text)
        return text.replace(payload, BENIGN)
    body = response.json()
    if isinstance(body, dict):
        body.pop("queries", None)
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    for form in (json.dumps(payload, ensure_ascii=False)[1:-1], payload):
        text = text.replace(form, BENIGN)
    return text


@pytest.mark.parametrize(("method", "path", "slot"), list(cases()))
def test_injections_are_refused_or_harmless(
    client: TestClient, world_store: Store, method: str, path: str, slot: str
) -> None:
    before = row_counts(world_store)
    request = Request(method, path)
    baseline = request.send(client, slot, BENIGN)
    assert baseline.status_code in (200, 422), (slot, baseline.status_code, baseline.text)
    for payload in PAYLOADS:
        response = request.send(client, slot, payload)
        assert response.status_code in (200, 422), (payload, response.status_code, response.text)
        if response.status_code == 422:
            assert response.json()["error"]["message"], response.text
        elif baseline.status_code == 200:
            assert comparable(response, payload) == comparable(baseline, BENIGN), payload
        else:
            pytest.fail(f"{payload!r} answered 200 where the benign value got a 422")
    assert row_counts(world_store) == before


def test_every_area_is_walked() -> None:
    paths = {path for _, path, _ in operations()}
    assert {"/api/stats", "/api/analytics/funnel", "/api/site-health/http"} <= paths
    assert any(p.startswith("/api/process/") for p in paths)
