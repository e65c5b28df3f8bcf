"""Rewrite deploy/compose/env/*.env from the chart's ConfigMaps (default values), with
the laptop's differences: `uv run python -m tests.deploy.write_compose_env` after a
setting was added to deploy/helm/exos/values.yaml. test_compose checks they match."""

from __future__ import annotations

from .helm import REPO, SERVICES, by_kind, object_name, render

LAPTOP_VALUES = {
    "EXOS_ENVIRONMENT": "development",  # dev tokens and keys are fine on a laptop
    "EXOS_GATEWAY_COOKIE_SECURE": "false",  # plain HTTP on localhost
}
# Settings the chart leaves to the service's default that a laptop sets, by file.
LAPTOP_ADDED = {
    "ingest.env": {"EXOS_INGEST_CORS_ORIGINS": "*"},  # any local page may post telemetry
}
ENV_DIR = REPO / "deploy" / "compose" / "env"


def expected_files() -> dict[str, dict[str, str]]:
    maps = by_kind(render(), "ConfigMap")
    files = {"exos.env": dict(maps["exos-config"]["data"])}
    for service in SERVICES:
        files[f"{service}.env"] = dict(maps[object_name(service)].get("data") or {})
    return {
        name: {k: LAPTOP_VALUES.get(k, v) for k, v in data.items()} | LAPTOP_ADDED.get(name, {})
        for name, data in files.items()
    }


def _header(name: str) -> str:
    source = "config" if name == "exos.env" else name.removesuffix(".env")
    lines = [f"# The chart's ConfigMap <release>-{source} with its default values, written by"]
    lines.append(
        "# `uv run python -m tests.deploy.write_compose_env` (test_compose keeps them equal)."
    )
    laptop = LAPTOP_VALUES | LAPTOP_ADDED.get(name, {})
    changed = [k for k in laptop if k in expected_files()[name]]
    if changed:
        lines.append("# On a laptop: " + ", ".join(f"{k}={laptop[k]}" for k in changed) + ".")
    return "\n".join(lines)


def main() -> None:
    for name, data in expected_files().items():
        body = "\n".join(f"{key}={data[key]}" for key in sorted(data))
        (ENV_DIR / name).write_text(_header(name) + "\n" + body + ("\n" if body else ""))


if __name__ == "__main__":
    main()
