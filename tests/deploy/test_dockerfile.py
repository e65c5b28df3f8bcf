"""The Dockerfile, checked statically (no Docker engine on the build machines): pinned base
images, uv with the locked dependencies, an unprivileged user on a read-only root, the
`exos` entry point, and a build context (.dockerignore) that keeps what the services
read at run time."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from exos.cli import app
from exos.commands.serve import Service
from exos_common.settings import ServeSettings

from .helm import REPO, load_values

DOCKERFILE = REPO / "Dockerfile"
IGNORE = REPO / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _build_args() -> dict[str, str]:
    args = {}
    for word, rest in _instructions():
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    return args


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, rest in stage:
        if word == "ENV":
            for pair in rest.split():
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_base_images_are_pinned_to_exact_versions() -> None:
    images = {k: v for k, v in _build_args().items() if k.endswith("_IMAGE")}
    assert set(images) == {"PYTHON_IMAGE", "NODE_IMAGE", "UV_IMAGE"}
    for image in images.values():
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.-]+)?", tag), image
    froms = [rest.split()[0] for word, rest in _instructions() if word == "FROM"]
    assert all(f.startswith("${") or f in {"uv", "web", "manifests", "build"} for f in froms)
    assert "latest" not in DOCKERFILE.read_text()


def test_python_and_uv_are_the_versions_the_project_uses() -> None:
    args = _build_args()
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minor = re.search(r">=(\d+\.\d+)", requires)
    assert minor and args["PYTHON_IMAGE"].startswith(f"python:{minor.group(1)}.")
    setup = (REPO / "scripts/setup.sh").read_text()
    uv_version = re.search(r'UV_VERSION="([^"]+)"', setup)
    assert uv_version and args["UV_IMAGE"] == f"ghcr.io/astral-sh/uv:{uv_version.group(1)}"


def test_dependencies_come_from_the_lock_without_dev_tools() -> None:
    runs = [rest for word, rest in _instructions() if word == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert len(syncs) == 2  # dependencies layer, then the workspace
    assert all("--locked" in r and "--no-dev" in r for r in syncs)
    assert "--no-install-workspace" in syncs[0]
    assert any("npm ci" in r for r in runs)


def test_final_stage_runs_exos_unprivileged_on_a_read_only_root() -> None:
    stage = _final_stage()
    users = [rest for word, rest in stage if word == "USER"]
    assert len(users) == 1
    uid, _, gid = users[0].partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and gid == uid
    chart_uid = load_values()["podSecurityContext"]["runAsUser"]
    assert int(uid) == chart_uid
    compose = yaml.safe_load((REPO / "deploy/compose/docker-compose.yml").read_text())
    assert compose["x-exos"]["user"] == f"{uid}:{gid}"
    env = _env(stage)
    assert env["EXOS_CACHE_DIR"].startswith("/tmp/") and env["HOME"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["EXOS_HTTP_HOST"] == "0.0.0.0"
    entrypoint = json.loads(next(rest for word, rest in stage if word == "ENTRYPOINT"))
    cmd = json.loads(next(rest for word, rest in stage if word == "CMD"))
    assert (entrypoint, cmd) == (["exos"], ["serve"])
    assert env["EXOS_SERVICE"] == "${SERVICE}"
    assert Service(_build_args()["SERVICE"])  # the default service is a real one
    assert not [word for word, _ in stage if word == "HEALTHCHECK"]  # see the comment there


def test_the_image_exposes_every_service_port() -> None:
    exposed = {int(p) for word, rest in _final_stage() if word == "EXPOSE" for p in rest.split()}
    serve = ServeSettings.model_validate({})
    assert exposed == {serve.port_of(s.value) for s in Service}


def test_serve_reads_the_service_from_the_image_environment() -> None:
    result = CliRunner().invoke(app, ["serve"], env={"EXOS_SERVICE": "no-such-service"})
    assert result.exit_code == 2
    assert "no-such-service" in result.output


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a pattern
    matching a folder excludes everything below it."""
    verdict = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            verdict = not negate
    return verdict


def _patterns() -> list[str]:
    lines = IGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    ("path", "ignored"),
    [(".git/config", True), ("services/gateway/web/node_modules/x.js", True),
     ("tests/deploy/test_chart.py", True), ("services/replay/tests/test_x.py", True),
     ("services/replay/src/exos_replay/app.py", False), ("uv.lock", False)],
)  # fmt: skip
def test_the_ignore_matcher(path: str, ignored: bool) -> None:
    assert _ignored(path, _patterns()) is ignored


def test_the_build_context_keeps_what_the_image_needs() -> None:
    patterns = _patterns()
    needed = ["pyproject.toml", "uv.lock", "README.md", "src/exos/cli.py"]
    needed += [str(p.relative_to(REPO)) for p in REPO.glob("*/*/pyproject.toml")]
    needed += [str(p.relative_to(REPO)) for p in REPO.glob("services/*/web/package*.json")]
    needed += [str(p.relative_to(REPO)) for p in REPO.glob("docs/**/*.md")]
    kept_out = [path for path in needed if _ignored(path, patterns)]
    assert not kept_out, f".dockerignore drops files the image needs: {kept_out}"


def test_every_web_folder_can_be_installed_from_its_lock() -> None:
    for manifest in REPO.glob("services/*/web/package.json"):
        assert (manifest.parent / "package-lock.json").is_file(), manifest


def test_folders_the_services_read_by_default_are_in_the_image() -> None:
    """Settings whose default is a folder of the repository (web assets, docs) must find
    it in /app: the image keeps the repository layout (editable install)."""
    from exos.settings_doc import service_settings

    defaults = {
        field: info.get_default(call_default_factory=True)
        for group in service_settings()
        for field, info in group.model_fields.items()
    }
    folders = {
        field: str(default.relative_to(REPO))
        for field, default in defaults.items()
        if isinstance(default, Path) and REPO in default.parents
    }
    # The check finds them (defaults computed by a factory included).
    assert {"replay_assets_dir", "gateway_web_dir", "gateway_docs_dir"} <= set(folders)
    for field, relative in folders.items():
        assert not _ignored(relative + "/x", _patterns()), f"{field}: {relative}"
