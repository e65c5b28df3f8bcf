"""The Helm chart deploy/helm/exos: `helm lint`, every rendered manifest against the
Kubernetes JSON schemas (offline, kubernetes-validate), and what each object must say
(probes, security, checksums, secrets by reference, hooks, scaling bounds)."""

from __future__ import annotations

import contextlib
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest

from exos_common.settings import ServeSettings

from .helm import (
    CHART,
    KUBE_VERSIONS,
    PRODUCTION,
    RELEASE,
    SERVICES,
    VALUE_SETS,
    all_secrets_set,
    by_kind,
    container,
    container_env,
    load_values,
    object_name,
    render,
    run_helm,
    template,
    value_args,
    workloads,
)

# Custom resources (KEDA, Prometheus Operator / Azure Monitor): not in the Kubernetes
# schemas; their fields are checked by test_custom_resources below.
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("azmonitoring.coreos.com/v1", "ServiceMonitor"),
}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_helm_lint_is_clean(value_set: str) -> None:
    lint = ["lint", str(CHART), "--strict", "--kube-version", KUBE_VERSIONS[-1]]
    result = run_helm(*lint, *value_args(VALUE_SETS[value_set]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_manifest_passes_the_kubernetes_schemas(value_set: str, kube_version: str) -> None:
    docs = render(VALUE_SETS[value_set], all_secrets_set(), kube_version)
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {exc.path}")
        checked += 1
    # 7 services x (Deployment, Service, ConfigMap, PDB, HPA or ScaledObject) + shared.
    assert checked >= 7 * 4 + 3


def test_every_service_has_its_objects_and_port() -> None:
    docs = render()
    serve = ServeSettings.model_validate({})
    kinds = {kind: by_kind(docs, kind) for kind in ("Service", "ConfigMap")}
    kinds["Deployment"] = workloads(docs)
    for service in SERVICES:
        name = object_name(service)
        for kind, objects in kinds.items():
            assert name in objects, f"no {kind} {name}"
        for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert name in by_kind(docs, kind), f"no {kind} {name}"
        spec = container(kinds["Deployment"][name])
        assert spec["args"] == ["serve", service]
        port = spec["ports"][0]["containerPort"]
        assert port == serve.port_of(service), "chart port differs from the code's default"
        env = container_env(docs, kinds["Deployment"][name])
        assert env[f"EXOS_{service.upper().replace('-', '_')}_PORT"] == {"value": str(port)}
        assert env["EXOS_HTTP_HOST"] == {"value": "0.0.0.0"}
        assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert spec["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        service_port = kinds["Service"][name]["spec"]["ports"][0]
        assert (service_port["port"], service_port["targetPort"]) == (port, "http")
        assert spec["resources"]["requests"]["cpu"] and spec["resources"]["limits"]["memory"]


@pytest.mark.parametrize("value_set", ["default", "eventhubs+cloud"])
def test_enrich_keeps_its_replica_names_across_restarts(value_set: str) -> None:
    """Enrich's transactional id is the pod name: a StatefulSet keeps it per replica."""
    docs = render(VALUE_SETS[value_set])
    stateful = by_kind(docs, "StatefulSet")
    assert set(stateful) == {object_name("enrich")}
    enrich = stateful[object_name("enrich")]
    assert enrich["spec"]["serviceName"] == object_name("enrich")
    assert enrich["spec"]["podManagementPolicy"] == "Parallel"
    assert "volumeClaimTemplates" not in enrich["spec"]  # the state lives in Kafka
    instance = next(e for e in container(enrich)["env"] if e["name"] == "EXOS_INSTANCE_ID")
    assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    scalers = [
        *by_kind(docs, "HorizontalPodAutoscaler").values(),
        *by_kind(docs, "ScaledObject").values(),
    ]
    target = next(
        o["spec"]["scaleTargetRef"]
        for o in scalers
        if o["metadata"]["name"] == object_name("enrich")
    )
    assert (target["kind"], target["name"]) == ("StatefulSet", object_name("enrich"))
    others = {
        o["spec"]["scaleTargetRef"]["kind"]
        for o in scalers
        if o["metadata"]["name"] != object_name("enrich")
    }
    assert others == {"Deployment"}


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    docs = render()
    pods = [*workloads(docs).values(), *by_kind(docs, "Job").values()]
    assert len(pods) == len(SERVICES) + 1
    for workload in pods:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        spec = container(workload)
        security = spec["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
        assert mounts["/tmp"] == "tmp"
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
        cache = next(e for e in spec["env"] if e["name"] == "EXOS_CACHE_DIR")
        assert cache["value"].startswith("/tmp/")


def _checksums(docs: list[dict[str, Any]]) -> dict[str, str]:
    return {
        name: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        for name, d in workloads(docs).items()
    }


def test_a_settings_change_rolls_exactly_the_pods_that_read_it() -> None:
    before = _checksums(render())
    assert len(set(before.values())) == len(SERVICES)  # each service has its own
    writer_only = _checksums(
        render(sets=["string:services.writer.config.EXOS_WRITER_BATCH_ROWS=1"])
    )
    assert {n for n in before if before[n] != writer_only[n]} == {object_name("writer")}
    shared = _checksums(render(sets=["string:config.EXOS_LOG_LEVEL=DEBUG"]))
    assert all(before[n] != shared[n] for n in before)
    openai_secret = _checksums(render(sets=["secretEnv.EXOS_OPENAI_API_KEY.existingSecret=llm"]))
    assert {n for n in before if before[n] != openai_secret[n]} == {object_name("insights")}


@pytest.mark.parametrize("value_set", PRODUCTION)
def test_secrets_are_references_given_only_to_their_services(value_set: str) -> None:
    docs = render(VALUE_SETS[value_set], all_secrets_set())
    secret_env = load_values()["secretEnv"]
    for data in (m["data"] for m in by_kind(docs, "ConfigMap").values()):
        assert not set(data) & {name for name in secret_env if name != "EXOS_CLICKHOUSE_USER"}
        for key, value in data.items():
            assert not re.search(r"PASSWORD|API_KEY|TOKEN|SECRET", key), key
            assert "SharedAccessKey=" not in value
    readers = {s: workloads(docs)[object_name(s)] for s in SERVICES}
    readers["migrate"] = by_kind(docs, "Job")[f"{RELEASE}-migrate"]
    for consumer, workload in readers.items():
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container(workload)["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        expected = {name for name, ref in secret_env.items() if consumer in ref["services"]}
        assert set(refs) == expected, consumer
        for name, ref in refs.items():
            assert ref["key"] and ref["name"], name


def test_migrations_run_as_a_hook_job_with_the_shared_settings() -> None:
    docs = render(PRODUCTION["eventhubs+cloud"])
    job = by_kind(docs, "Job")[f"{RELEASE}-migrate"]
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    spec = container(job)
    assert spec["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Inlined, since a pre-install hook runs before the ConfigMap exists: same values.
    inline = {e["name"]: e["value"] for e in spec["env"] if "value" in e}
    shared = by_kind(docs, "ConfigMap")[f"{RELEASE}-config"]["data"]
    assert {k: inline[k] for k in shared} == shared
    assert inline["EXOS_CLICKHOUSE_URL"].startswith("https://")
    refs = {e["name"] for e in spec["env"] if "valueFrom" in e}
    assert refs == {"EXOS_CLICKHOUSE_USER", "EXOS_CLICKHOUSE_PASSWORD"}


def test_migrations_can_be_turned_off() -> None:
    assert not by_kind(render(sets=["migrations.enabled=false"]), "Job")


@pytest.mark.parametrize("service", ["enrich", "writer"])
def test_consumer_replicas_are_bounded_by_partitions(service: str) -> None:
    partitions = int(load_values()["config"]["EXOS_KAFKA_TOPIC_PARTITIONS"])
    ok = template(sets=[f"services.{service}.autoscaling.maxReplicas={partitions}"])
    assert ok.returncode == 0, ok.stderr
    too_many = template(sets=[f"services.{service}.autoscaling.maxReplicas={partitions + 1}"])
    assert too_many.returncode != 0
    assert f"services.{service} may run {partitions + 1} replicas" in too_many.stderr
    assert f"have {partitions} partitions" in too_many.stderr
    more_partitions = template(
        sets=[
            f"services.{service}.autoscaling.maxReplicas={partitions + 1}",
            f"string:config.EXOS_KAFKA_TOPIC_PARTITIONS={partitions + 1}",
        ]
    )
    assert more_partitions.returncode == 0, more_partitions.stderr
    keda = template(
        sets=[f"services.{service}.keda.enabled=true", f"services.{service}.keda.maxReplicas=99"]
    )
    assert keda.returncode != 0 and "partitions" in keda.stderr


def test_keda_lag_scaling_replaces_the_hpa_of_consumers_only() -> None:
    values = load_values(*PRODUCTION["eventhubs+cloud"])
    docs = render(PRODUCTION["eventhubs+cloud"])
    hpas, scaled = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "ScaledObject")
    assert set(scaled) == {object_name("enrich"), object_name("writer")}
    assert set(hpas) == {object_name(s) for s in SERVICES} - set(scaled)
    for service in ("enrich", "writer"):
        obj = scaled[object_name(service)]
        trigger = obj["spec"]["triggers"][0]
        group = values["services"][service]["config"][f"EXOS_{service.upper()}_GROUP"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == group
        assert trigger["metadata"]["bootstrapServers"] == values["config"]["EXOS_KAFKA_BOOTSTRAP"]
        assert trigger["authenticationRef"] == {"name": "exos-kafka"}
        deployment = workloads(docs)[object_name(service)]
        assert "replicas" not in deployment["spec"]  # the autoscaler owns it
    keda = {"enabled": "true", "minReplicas": "1", "maxReplicas": "2", "lagThreshold": "1"}
    refused = template(sets=[f"services.gateway.keda.{k}={v}" for k, v in keda.items()])
    assert refused.returncode != 0 and "needs a Kafka consumer service" in refused.stderr


def test_custom_resources_have_the_fields_their_operators_need() -> None:
    docs = render(PRODUCTION["strimzi+operator"])
    services = by_kind(docs, "Service")
    monitors = by_kind(docs, "ServiceMonitor")
    assert list(monitors) == [RELEASE]
    monitor = monitors[RELEASE]
    assert monitor["apiVersion"] == "azmonitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    limits = ("labelLimit", "labelNameLengthLimit", "labelValueLengthLimit")
    assert all(monitor["spec"][limit] > 0 for limit in limits)  # Azure drops it without
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(selector.items() <= s["metadata"]["labels"].items() for s in services.values())
    for obj in by_kind(docs, "ScaledObject").values():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        target = obj["spec"]["scaleTargetRef"]["name"]
        assert target in workloads(docs)
        assert 1 <= obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"]
        metadata = obj["spec"]["triggers"][0]["metadata"]
        assert all(isinstance(v, str) for v in metadata.values())  # KEDA wants strings
        assert int(metadata["lagThreshold"]) > 0


def test_metrics_annotations_point_at_each_service_port() -> None:
    for name, deployment in workloads(render()).items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        port = container(deployment)["ports"][0]["containerPort"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port), name
        assert annotations["prometheus.io/path"] == "/metrics"
    for deployment in workloads(render(PRODUCTION["eventhubs+cloud"])).values():
        assert (
            "prometheus.io/scrape" not in deployment["spec"]["template"]["metadata"]["annotations"]
        )


def test_ingresses_route_to_gateway_and_ingest() -> None:
    docs = render(PRODUCTION["eventhubs+cloud"])
    ingresses = by_kind(docs, "Ingress")
    assert set(ingresses) == {object_name("gateway"), object_name("ingest")}
    routes = {
        (rule["host"], path["path"]): path["backend"]["service"]
        for ingress in ingresses.values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes == {
        ("exos.contoso.com", "/"): {"name": object_name("gateway"), "port": {"name": "http"}},
        ("otlp.exos.contoso.com", "/v1"): {"name": object_name("ingest"), "port": {"name": "http"}},
    }
    ingest = ingresses[object_name("ingest")]
    assert ingest["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "16m"
    assert not by_kind(render(), "Ingress")  # off by default: no host is known


def test_gateway_reaches_the_read_services_through_their_services() -> None:
    docs = render()
    services = by_kind(docs, "Service")
    env = container_env(docs, workloads(docs)[object_name("gateway")])
    for variable, target in load_values()["services"]["gateway"]["upstreams"].items():
        service = services[object_name(target)]
        port = service["spec"]["ports"][0]["port"]
        assert env[variable] == {"value": f"http://{object_name(target)}:{port}"}


def test_workload_identity_labels_pods_and_annotates_the_service_account() -> None:
    docs = render(PRODUCTION["eventhubs+cloud"])
    account = by_kind(docs, "ServiceAccount")[RELEASE]
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"]
    for deployment in workloads(docs).values():
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        assert pod["spec"]["serviceAccountName"] == RELEASE
    assert "azure.workload.identity/use" not in str(render())


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["services.writer.replicaz=3"], "additional properties 'replicaz' not allowed"),
        (["config.EXOS_LOG_LEVEL=5"], "got number, want string"),
        (["string:config.LOG_LEVEL=DEBUG"], "LOG_LEVEL"),
        (["string:config.EXOS_CLICKHOUSE_URL=chdb://.exos/clickhouse"], "EXOS_CLICKHOUSE_URL"),
        (["string:config.EXOS_KAFKA_COMPRESSION=brotli"], "EXOS_KAFKA_COMPRESSION"),
        (["secretEnv.EXOS_OPENAI_API_KEY.services={insights,ui}"], "services/1"),
        (["serviceAccount.workloadIdentity.enabled=true"], "clientId"),
        (["services.ingest.port=70000"], "maximum"),
        (["services.search.enabled=true"], "additional properties 'search' not allowed"),
        (
            [
                "string:services.gateway.config.EXOS_GATEWAY_AUTH=oidc",
                "string:services.gateway.config.EXOS_GATEWAY_OIDC_ISSUER=https://idp.example",
            ],
            "EXOS_GATEWAY_OIDC_AUDIENCE",
        ),
    ],
)
def test_values_schema_refuses_bad_values(sets: list[str], message: str) -> None:
    result = template(sets=sets)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


def test_oidc_with_issuer_and_audience_renders() -> None:
    docs = render(
        sets=[
            "string:services.gateway.config.EXOS_GATEWAY_AUTH=oidc",
            "string:services.gateway.config.EXOS_GATEWAY_OIDC_ISSUER=https://idp.example",
            "string:services.gateway.config.EXOS_GATEWAY_OIDC_AUDIENCE=api://exos",
        ]
    )
    assert "api://exos" in str(docs)


def test_helm_test_pod_checks_every_service_readiness() -> None:
    docs = render()
    pods = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Pod"}
    pod = pods[f"{RELEASE}-test-readiness"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script, *urls = pod["spec"]["containers"][0]["args"]
    expected = {
        f"http://{name}:{service['spec']['ports'][0]['port']}/readyz"
        for name, service in by_kind(docs, "Service").items()
    }
    assert set(urls) == expected and len(expected) == len(SERVICES)
    # The script itself: exit 0 only when every URL answers 2xx.
    with _status_server({"/ready/readyz": 200, "/down/readyz": 503}) as base:
        ok = subprocess.run([sys.executable, "-c", script, f"{base}/ready/readyz"], check=False)
        down = [f"{base}/ready/readyz", f"{base}/down/readyz"]
        failed = subprocess.run(
            [sys.executable, "-c", script, *down], capture_output=True, text=True, check=False
        )
    assert ok.returncode == 0
    assert failed.returncode == 1 and f"NOT READY {base}/down/readyz" in failed.stdout


@contextlib.contextmanager
def _status_server(statuses: dict[str, int]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses.get(self.path, 404))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _allowed_components(policy: dict[str, Any]) -> set[str]:
    """Components a NetworkPolicy lets in by pod selector; "*" for a rule with no `from`."""
    allowed: set[str] = set()
    for rule in policy["spec"]["ingress"]:
        if "from" not in rule:
            allowed.add("*")
        for peer in rule.get("from", []):
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if "app.kubernetes.io/component" in labels:
                allowed.add(labels["app.kubernetes.io/component"])
    return allowed


def test_network_policies_let_in_exactly_each_service_clients() -> None:
    assert by_kind(render(), "NetworkPolicy")  # on by default
    assert not by_kind(render(sets=["networkPolicy.enabled=false"]), "NetworkPolicy")
    docs = render(PRODUCTION["eventhubs+cloud"])
    policies = by_kind(docs, "NetworkPolicy")
    assert set(policies) == {object_name(s) for s in SERVICES}
    allowed = {s: _allowed_components(policies[object_name(s)]) for s in SERVICES}
    # Browsers reach ingest and the gateway through the ingress controller only.
    assert allowed["ingest"] == allowed["gateway"] == {"test"}
    ingress_from = load_values()["networkPolicy"]["ingressFrom"]
    for name in ("ingest", "gateway"):
        assert policies[object_name(name)]["spec"]["ingress"][1]["from"] == ingress_from
    assert allowed["writer"] == {"test"}  # it only consumes; helm test still asks /readyz
    # Every upstream the gateway calls lets the gateway in.
    for target in load_values()["services"]["gateway"]["upstreams"].values():
        assert allowed[target] == {"gateway", "test"}, target
    for policy in policies.values():
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selector["app.kubernetes.io/instance"] == RELEASE
        assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress: Kafka, ClickHouse, LLM
        metrics = policy["spec"]["ingress"][-1]
        # The scraper by namespace AND pod labels, not every pod of kube-system.
        assert [peer["podSelector"]["matchLabels"] for peer in metrics["from"]] == [
            {"rsName": "ama-metrics"},
            {"dsName": "ama-metrics-node"},
        ]
        assert all(
            peer["namespaceSelector"]["matchLabels"]
            == {"kubernetes.io/metadata.name": "kube-system"}
            for peer in metrics["from"]
        )
        assert all(
            rule["ports"] == [{"port": "http", "protocol": "TCP"}]
            for rule in policy["spec"]["ingress"]
        )
    test_pod = next(d for d in docs if d["kind"] == "Pod")
    assert test_pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
