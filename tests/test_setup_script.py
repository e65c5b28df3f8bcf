"""scripts/setup.sh: `up` (behind `make up`) installs only what the all-in-one needs, the
default (behind `make test`) everything the tests need, and a second run does nothing new.

The script runs for real on a copy of the repository's skeleton, with every installer it
calls (uv, npm, apt-get, go) replaced by a stub on PATH that records its arguments."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_WEB = ["services/replay/web", "services/gateway/web", "services/insights/web"]
TEST_ONLY_WEB = ["tests/e2e/browser", "tests/deploy"]
STUB = """#!/bin/sh
echo "{name} $*" >> "$SETUP_CALLS"
{extra}
"""
STUBS = {
    "uv": 'if [ "$1" = "--version" ]; then echo "uv 0.13.9"; fi',
    # npm ci leaves node_modules behind with npm's own lock copy, as the real one does.
    "npm": 'if [ "$1" = "ci" ]; then mkdir -p node_modules && cp package-lock.json '
    "node_modules/.package-lock.json; fi",
    "apt-get": "",
    "go": "",
    "python3": "",
    "id": "echo 0",  # root: missing system packages are installed, not just named
}
TOOLS = ("bash", "dirname", "cut", "cmp", "cp", "mkdir", "cat")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts/setup.sh", copy / "scripts/setup.sh")
    for web in RUNTIME_WEB + TEST_ONLY_WEB:
        (copy / web).mkdir(parents=True)
        shutil.copy(ROOT / web / "package-lock.json", copy / web / "package-lock.json")
    return copy


def run_setup(repo: Path, *args: str) -> tuple[int, list[str]]:
    bin_dir = repo.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, extra in STUBS.items():
        stub = bin_dir / name
        stub.write_text(STUB.format(name=name, extra=extra))
        stub.chmod(0o755)
    for tool in TOOLS:
        target = shutil.which(tool)
        assert target, tool
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(target)
    calls = repo.parent / "calls.log"
    calls.write_text("")
    env = {
        "PATH": str(bin_dir),  # nothing else: java, mvn, chromium and helm are "missing"
        "HOME": str(repo.parent),
        "EXOS_CACHE_DIR": str(repo.parent / "cache"),
        "SETUP_CALLS": str(calls),
    }
    result = subprocess.run(
        [str(bin_dir / "bash"), "scripts/setup.sh", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        timeout=60,
    )
    return result.returncode, calls.read_text().splitlines()


def npm_dirs(repo: Path) -> set[str]:
    return {
        str(p.parent.parent.relative_to(repo))
        for p in repo.rglob("node_modules/.exos-installed-lock")
    }


def test_up_installs_only_what_the_all_in_one_needs(repo: Path) -> None:
    code, calls = run_setup(repo, "up")
    assert code == 0, calls
    assert "uv sync --locked --no-dev --inexact --quiet" in calls
    assert not [c for c in calls if c.startswith("apt-get")], calls  # no Java, Maven, Go
    assert not [c for c in calls if c.startswith("go ")], calls
    assert [c for c in calls if c.startswith("npm")] == [
        "npm ci --no-audit --no-fund --loglevel=error"
    ] * 3
    assert npm_dirs(repo) == set(RUNTIME_WEB)


def test_the_default_installs_what_the_tests_need(repo: Path) -> None:
    code, calls = run_setup(repo)
    assert code == 0, calls
    installed = " ".join(c for c in calls if c.startswith("apt-get"))
    # (Chromium is looked for at /usr/bin/chromium, which a PATH cannot hide.)
    for package in ("openjdk-17-jre-headless", "maven"):
        assert package in installed, calls
    assert "uv sync --locked --quiet" in calls
    assert [c for c in calls if c.startswith("go install")], calls  # Helm, built once
    assert npm_dirs(repo) == set(RUNTIME_WEB + TEST_ONLY_WEB)


def test_a_second_run_installs_nothing_new(repo: Path) -> None:
    assert run_setup(repo, "up")[0] == 0
    code, calls = run_setup(repo, "up")
    assert code == 0
    assert not [c for c in calls if c.startswith("npm")], calls


def test_an_unknown_profile_is_refused(repo: Path) -> None:
    code, calls = run_setup(repo, "everything")
    assert code == 2
    assert calls == []


def test_make_up_uses_the_runtime_profile_and_no_dev_packages() -> None:
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "up"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    assert plan == ["bash scripts/setup.sh up", "uv run --locked --no-dev exos up --demo"]


def test_make_test_keeps_the_full_profile() -> None:
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    assert plan[0] == "bash scripts/setup.sh"
    assert plan[-1] == "uv run pytest"
