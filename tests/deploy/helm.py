"""Running the Helm binary that `make setup` builds, and reading what it renders.

Helm comes from the Go module proxy into the EXOS cache (scripts/setup.sh). A test that
needs it and cannot find it fails with the command that installs it: never a skip.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "exos"
EXAMPLES = CHART / "examples"
RELEASE = "exos"
NAMESPACE = "exos"
SERVICES = ("ingest", "enrich", "writer", "query-api", "replay", "insights", "gateway")

# The Kubernetes versions the chart is rendered for and validated against: an older one
# AKS still supports and the newest whose schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.31.0", "1.37.0")
DEFAULT_KUBE_VERSION = KUBE_VERSIONS[-1]

# Production-like value sets: the AKS baseline with each external Kafka and ClickHouse.
PRODUCTION = {
    "eventhubs+cloud": ("values-production.yaml", "kafka-eventhubs.yaml", "clickhouse-cloud.yaml"),
    "strimzi+operator": (
        "values-production.yaml",
        "kafka-strimzi.yaml",
        "clickhouse-operator.yaml",
    ),
}
VALUE_SETS: dict[str, tuple[str, ...]] = {"default": (), **PRODUCTION}


def helm_binary() -> str:
    cache = Path(os.environ.get("EXOS_CACHE_DIR") or Path.home() / ".cache" / "exos")
    built = cache / "bin" / "helm"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    pytest.fail(f"helm not found at {built} nor on PATH: run `make setup` (scripts/setup.sh)")


@functools.cache
def _helm_home() -> str:
    # Helm reads and writes its config, cache and data folders; keep them out of $HOME.
    return tempfile.mkdtemp(prefix="exos-helm-")


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    home = _helm_home()
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": f"{home}/config",
        "HELM_CACHE_HOME": f"{home}/cache",
        "HELM_DATA_HOME": f"{home}/data",
    }
    return subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def value_args(files: Iterable[str], sets: Iterable[str] = ()) -> list[str]:
    args: list[str] = []
    for name in files:
        args += ["-f", str(EXAMPLES / name)]
    for item in sets:
        args += ["--set-string" if item.startswith("string:") else "--set", item.split(":", 1)[-1]]
    return args


def template(
    files: Sequence[str] = (),
    sets: Sequence[str] = (),
    kube_version: str = DEFAULT_KUBE_VERSION,
) -> subprocess.CompletedProcess[str]:
    """`helm template`; a `sets` item `string:a.b=c` is passed with --set-string."""
    return run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version,
        *value_args(files, sets),
    )


@functools.cache
def _render_cached(
    files: tuple[str, ...], sets: tuple[str, ...], kube_version: str
) -> tuple[dict[str, Any], ...]:
    result = template(files, sets, kube_version)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(
    files: Sequence[str] = (),
    sets: Sequence[str] = (),
    kube_version: str = DEFAULT_KUBE_VERSION,
) -> list[dict[str, Any]]:
    """The rendered manifests (fresh copies: tests may not change the cached ones)."""
    import copy

    return copy.deepcopy(list(_render_cached(tuple(files), tuple(sets), kube_version)))


def by_kind(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def workloads(docs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services' pods' owners: Deployments and StatefulSets (enrich) by name."""
    return {**by_kind(docs, "Deployment"), **by_kind(docs, "StatefulSet")}


def object_name(service: str) -> str:
    return f"{RELEASE}-{service}"


def container(deployment_or_job: dict[str, Any]) -> dict[str, Any]:
    containers = deployment_or_job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def container_env(
    docs: Sequence[dict[str, Any]], workload: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Every variable a workload's container gets: its ConfigMaps (envFrom) then its own
    env entries (which win, as in Kubernetes). Values are {"value": ...} or the
    valueFrom reference."""
    maps = by_kind(docs, "ConfigMap")
    spec = container(workload)
    env: dict[str, dict[str, Any]] = {}
    for source in spec.get("envFrom", []):
        for key, value in maps[source["configMapRef"]["name"]]["data"].items():
            env[key] = {"value": value}
    for entry in spec.get("env", []):
        env[entry["name"]] = (
            {"value": entry["value"]} if "value" in entry else {"valueFrom": entry["valueFrom"]}
        )
    return env


def load_values(*files: str) -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for name in files:
        values = _merge(values, yaml.safe_load((EXAMPLES / name).read_text()))
    return dict(values)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return override


def all_secrets_set() -> list[str]:
    """--set arguments giving every secretEnv entry an existing Secret."""
    return [
        f"secretEnv.{name}.existingSecret=secret-{name.lower().replace('_', '-')}"
        for name in load_values()["secretEnv"]
    ]
