"""Every `EXOS_*` setting of every settings class reaches the chart: as a value in
values.yaml (`config` or `services.<name>.config`), set by the templates, or read from a
secret, or is listed below as not applicable with the reason. New settings are found
through `exos.settings_doc`, so a setting added to a service fails here until the chart
(and docs/configuration.md) know it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter
from pydantic_settings import BaseSettings

from exos.settings_doc import env_name, service_settings
from exos_common.schema import ReaderSettings
from exos_common.settings import SETTINGS_GROUPS, ClickHouseSettings, StoreSettings

from .helm import (
    RELEASE,
    REPO,
    SERVICES,
    VALUE_SETS,
    all_secrets_set,
    by_kind,
    container,
    container_env,
    load_values,
    object_name,
    render,
    workloads,
)

NOT_APPLICABLE = {
    "EXOS_KAFKA_VERSION": "only `exos kafka start` (a local broker) reads it; Kafka is external",
    "EXOS_CLICKHOUSE_SERVER_HOST": "the embedded ClickHouse server is for laptops and tests",
    "EXOS_CLICKHOUSE_SERVER_PORT": "the embedded ClickHouse server is for laptops and tests",
    "EXOS_CLICKHOUSE_SERVER_DATA": "the embedded ClickHouse server is for laptops and tests",
    "EXOS_CLICKHOUSE_SERVER_PASSWORD_FILE": "the embedded ClickHouse server only",
    "EXOS_CLICKHOUSE_SERVER_ALLOWED_HOSTS": "the embedded ClickHouse server only",
    "EXOS_CLICKHOUSE_SERVER_ALLOWED_ORIGINS": "the embedded ClickHouse server only",
    "EXOS_DATA_DIR": "the all-in-one mode (`exos up`) only",
    "EXOS_DEMO_SCALE": "the all-in-one mode's demo (`exos up --demo`) only",
    "EXOS_DEMO_SEED": "the all-in-one mode's demo (`exos up --demo`) only",
    "EXOS_BUS_FSYNC": "the all-in-one mode's in-process bus only; pods use Kafka",
    "EXOS_BUS_MAX_PENDING_BYTES": "the all-in-one mode's in-process bus only; pods use Kafka",
    "EXOS_BUS_SEGMENT_BYTES": "the all-in-one mode's in-process bus only; pods use Kafka",
    "EXOS_ALLOWED_HOSTS": "the all-in-one mode's Host check; in a cluster the ingress routes hosts",
}
# Where the chart's default deliberately differs from the code's, and why.
CHART_OVERRIDES = {
    "EXOS_ENVIRONMENT": "a cluster is production: unsafe defaults are refused",
    "EXOS_KAFKA_BOOTSTRAP": "the code's default is localhost; in a cluster Kafka is a Service",
    "EXOS_LOG_FORMAT": "a cluster's log pipeline reads JSON: said outright, not inferred "
    "from stderr not being a terminal",
    "EXOS_CLICKHOUSE_URL": "pods share a ClickHouse server, never an embedded chdb:// folder",
}
_SECRET_MARKERS = ("PASSWORD", "API_KEY", "SECRET", "TOKEN")


def _service_of(group: type[BaseSettings]) -> str | None:
    module = group.__module__
    if not module.startswith("exos_") or not module.endswith(".settings"):
        return None
    name = module.removeprefix("exos_").removesuffix(".settings").replace("_", "-")
    return name if name in SERVICES else None


def _fields(group: type[BaseSettings]) -> dict[str, tuple[str, Any]]:
    return {env_name(group, f): (f, info) for f, info in group.model_fields.items()}


SERVICE_CLASSES = {_service_of(g): g for g in service_settings() if _service_of(g)}
SHARED_NAMES = {name for group in SETTINGS_GROUPS for name in _fields(group)}
ALL_FIELDS: dict[str, Any] = {
    name: info
    for group in (*SETTINGS_GROUPS, *service_settings())
    for name, (_, info) in _fields(group).items()
}


def _is_secret(name: str, info: Any) -> bool:
    annotation = str(info.annotation)
    if name.endswith("_FILE") and "Path" in annotation:
        return False  # where a secret is kept, not the secret
    return "SecretStr" in annotation or any(m in name for m in _SECRET_MARKERS)


@pytest.fixture(scope="module")
def rendered_env() -> dict[str, dict[str, dict[str, Any]]]:
    """Each service's container variables with every secret reference switched on."""
    docs = render(sets=all_secrets_set())
    deployments = workloads(docs)
    return {s: container_env(docs, deployments[object_name(s)]) for s in SERVICES}


def test_every_service_of_the_code_is_in_the_chart() -> None:
    assert set(load_values()["services"]) == set(SERVICES)
    assert set(SERVICE_CLASSES) == set(SERVICES), "a service without a settings class?"


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_of_a_service_reaches_its_pods(
    service: str, rendered_env: dict[str, dict[str, dict[str, Any]]]
) -> None:
    values = load_values()
    declared = set(values["config"]) | set(values["services"][service]["config"])
    reaching = declared | set(rendered_env[service])
    missing = [
        name
        for name in _fields(SERVICE_CLASSES[service])
        if name not in reaching and name not in NOT_APPLICABLE
    ]
    assert not missing, (
        f"{service}: settings the chart does not give its pods: {missing}. Add each to "
        f"deploy/helm/exos/values.yaml (services.{service}.config, or config when shared, "
        "or secretEnv when secret), or to NOT_APPLICABLE in this test with the reason."
    )


def test_every_shared_setting_is_used_or_not_applicable(
    rendered_env: dict[str, dict[str, dict[str, Any]]],
) -> None:
    everywhere = set(load_values()["config"]).union(*rendered_env.values())
    missing = sorted(SHARED_NAMES - everywhere - set(NOT_APPLICABLE))
    assert not missing, f"shared settings no pod gets: {missing}"


def test_every_chart_setting_exists_in_the_code_and_sits_with_its_service() -> None:
    values = load_values()
    unknown = [n for n in [*values["config"], *values["secretEnv"]] if n not in ALL_FIELDS]
    assert not unknown, f"not a setting of any service: {unknown}"
    misplaced_shared = [n for n in values["config"] if n not in SHARED_NAMES]
    assert not misplaced_shared, f"service settings in the shared config: {misplaced_shared}"
    for service, block in values["services"].items():
        own = _fields(SERVICE_CLASSES[service])
        wrong = [n for n in block["config"] if n not in own or n in SHARED_NAMES]
        assert not wrong, (
            f"services.{service}.config holds settings {service} does not read: {wrong}"
        )
    assert not set(NOT_APPLICABLE) - set(ALL_FIELDS), "NOT_APPLICABLE lists a removed setting"


def test_chart_defaults_are_the_code_defaults() -> None:
    values = load_values()
    blocks = [values["config"], *(s["config"] for s in values["services"].values())]
    for block in blocks:
        for name, text in block.items():
            info = ALL_FIELDS[name]
            if name in CHART_OVERRIDES or text == "":  # "" = the service's own default
                continue
            parsed = TypeAdapter(info.annotation).validate_python(text)
            assert parsed == info.default, f"{name}: chart {text!r}, code {info.default!r}"
    assert set(CHART_OVERRIDES) <= set(values["config"])


def test_secrets_come_only_from_secret_references() -> None:
    values = load_values()
    secret_settings = {n for n, info in ALL_FIELDS.items() if _is_secret(n, info)}
    assert secret_settings <= set(values["secretEnv"]), "a secret setting without secretEnv"
    in_config = set(values["config"]).union(*(s["config"] for s in values["services"].values()))
    assert not secret_settings & in_config
    for name, ref in values["secretEnv"].items():
        readers = {s for s, cls in SERVICE_CLASSES.items() if name in _fields(cls)}
        if any(name in _fields(g) for g in (ClickHouseSettings, ReaderSettings)):
            readers.add("migrate")  # `exos migrate`: the schema, and the read-only user
        assert set(ref["services"]) == readers, f"{name}: given to {ref['services']}"
        assert not isinstance(ALL_FIELDS[name].default, SecretStr)


def test_docs_document_every_setting_and_the_deployment() -> None:
    configuration = (REPO / "docs/configuration.md").read_text()
    absent = sorted(name for name in ALL_FIELDS if f"`{name}`" not in configuration)
    assert not absent, f"settings missing from docs/configuration.md: {absent}"
    chart_readme = (REPO / "deploy/helm/exos/README.md").read_text()
    for service in SERVICES:
        assert f"`{service}`" in chart_readme, service
    for example in sorted(Path(REPO / "deploy/helm/exos/examples").glob("*.yaml")):
        assert example.name in chart_readme, example.name
    for topic in ("Install on AKS", "KEDA", "Event Hubs", "Strimzi", "ClickHouse Cloud",
                  "existingSecret", "workload identity"):  # fmt: skip
        assert topic in chart_readme, topic
    deploy_page = (REPO / "docs/deploy.md").read_text()
    assert "docker compose" in deploy_page
    assert "deploy/compose/docker-compose.yml" in deploy_page


def _as_process_env(env: dict[str, dict[str, Any]]) -> dict[str, str]:
    """What the container's process sees: secrets and the pod name stand in as text."""
    resolved = {}
    for name, source in env.items():
        if "value" in source:
            resolved[name] = str(source["value"])
        elif "secretKeyRef" in source["valueFrom"]:
            resolved[name] = f"secret-{source['valueFrom']['secretKeyRef']['key']}"
        else:
            resolved[name] = "exos-enrich-0"
    return resolved


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_pod_environment_is_accepted_by_its_service_settings(
    value_set: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each service's settings class validates exactly what its pod would get (bad
    literals, numbers or CIDRs in the chart fail here, not at the pod's start)."""
    docs = render(VALUE_SETS[value_set], all_secrets_set())
    pods = workloads(docs)
    for service in SERVICES:
        env = _as_process_env(container_env(docs, pods[object_name(service)]))
        for name in [n for n in os.environ if n.startswith("EXOS_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = SERVICE_CLASSES[service]()
        for name, (field, _) in _fields(SERVICE_CLASSES[service]).items():
            if name in env and env[name] and not name.endswith(("_KEYS", "_TOKENS")):
                shown = getattr(settings, field)
                shown = shown.get_secret_value() if isinstance(shown, SecretStr) else shown
                assert str(shown) == env[name] or shown == TypeAdapter(
                    SERVICE_CLASSES[service].model_fields[field].annotation
                ).validate_python(env[name]), name
    job = container(by_kind(docs, "Job")[f"{RELEASE}-migrate"])
    for name in [n for n in os.environ if n.startswith("EXOS_")]:
        monkeypatch.delenv(name)
    for name, value in _as_process_env({e["name"]: e for e in job["env"]}).items():
        monkeypatch.setenv(name, value)
    assert StoreSettings().clickhouse_url.startswith("http")
