"""What the chart renders for service-to-service trust: the generated shared secret and
who reads it, the Kafka and ClickHouse policies, and the TLS examples."""

from __future__ import annotations

import base64
from typing import Any

from .helm import (
    CHART,
    PRODUCTION,
    RELEASE,
    SERVICES,
    by_kind,
    container,
    load_values,
    object_name,
    render,
    run_helm,
    value_args,
    workloads,
)

READERS_OF_THE_SECRET = {"gateway", "query-api", "replay", "insights"}
TLS = ("tls/kafka-tls.yaml", "tls/clickhouse-tls.yaml", "tls/ca-bundle.yaml")


def _secret_refs(workload: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container(workload)["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_the_chart_generates_the_service_secret_and_gives_it_to_gateway_and_readers() -> None:
    docs = render()
    secret = by_kind(docs, "Secret")[f"{RELEASE}-service-secret"]
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    value = base64.b64decode(secret["data"]["service-secret"])
    assert len(value) == 48 and value.isalnum()
    for service in SERVICES:
        refs = _secret_refs(workloads(docs)[object_name(service)])
        has = "EXOS_SERVICE_SECRET" in refs
        assert has is (service in READERS_OF_THE_SECRET), service
        if has:
            ref = refs["EXOS_SERVICE_SECRET"]
            assert ref == {"name": f"{RELEASE}-service-secret", "key": "service-secret"}


def test_a_named_secret_replaces_the_generated_one() -> None:
    docs = render(sets=["secretEnv.EXOS_SERVICE_SECRET.existingSecret=from-key-vault"])
    assert f"{RELEASE}-service-secret" not in by_kind(docs, "Secret")
    refs = _secret_refs(workloads(docs)[object_name("replay")])
    assert refs["EXOS_SERVICE_SECRET"]["name"] == "from-key-vault"


def test_the_read_services_are_not_opened_anonymously() -> None:
    config = load_values()["config"]
    assert config["EXOS_READ_ALLOW_ANONYMOUS"] == "false"
    assert config["EXOS_PII_ROLES"] == "analyst,admin"


def _policy(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_kind(docs, "NetworkPolicy")[name]


def _allowed(policy: dict[str, Any]) -> set[str]:
    [rule] = policy["spec"]["ingress"]
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]
    }


def test_in_cluster_kafka_and_clickhouse_only_let_in_their_users() -> None:
    docs = render(PRODUCTION["strimzi+operator"])
    kafka = _policy(docs, f"{RELEASE}-kafka-clients")
    assert kafka["metadata"]["namespace"] == "kafka"
    assert kafka["spec"]["podSelector"]["matchLabels"]["strimzi.io/kind"] == "Kafka"
    assert _allowed(kafka) == {"ingest", "enrich", "writer"}
    clickhouse = _policy(docs, f"{RELEASE}-clickhouse-clients")
    assert clickhouse["metadata"]["namespace"] == "clickhouse"
    assert _allowed(clickhouse) == {"writer", "query-api", "replay", "insights", "migrate"}
    for policy in (kafka, clickhouse):
        for peer in policy["spec"]["ingress"][0]["from"]:
            # Both selectors in one peer: these pods of this release's namespace only.
            assert peer["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": "exos"
            }
    # External Kafka and ClickHouse (Event Hubs, ClickHouse Cloud): nothing to guard here.
    cloud = by_kind(render(PRODUCTION["eventhubs+cloud"]), "NetworkPolicy")
    assert not {f"{RELEASE}-kafka-clients", f"{RELEASE}-clickhouse-clients"} & set(cloud)


def test_a_data_policy_without_a_pod_selector_is_refused() -> None:
    result = run_helm("template", RELEASE, str(CHART), "--set", "networkPolicy.kafka.enabled=true")
    assert result.returncode != 0
    assert "networkPolicy.kafka.podSelector must select its pods" in result.stderr


def test_tls_examples_render_with_the_ca_mounted() -> None:
    files = ("values-production.yaml", *TLS)
    lint = run_helm("lint", str(CHART), "--strict", *value_args(files))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = render(files)
    config = by_kind(docs, "ConfigMap")[f"{RELEASE}-config"]["data"]
    assert config["EXOS_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["EXOS_CLICKHOUSE_URL"].startswith("https://")
    # Everyone who talks to Kafka or ClickHouse trusts the bundle; the gateway does not.
    for service in SERVICES:
        spec = container(workloads(docs)[object_name(service)])
        env = {e["name"]: e.get("value") for e in spec["env"]}
        mounts = {m["mountPath"] for m in spec.get("volumeMounts", [])}
        if service == "gateway":
            assert "SSL_CERT_FILE" not in env
            continue
        assert env["SSL_CERT_FILE"] == "/etc/exos/ca/ca.crt", service
        assert "/etc/exos/ca" in mounts, service
