#!/usr/bin/env bash
# Installs what EXOS needs on a fresh machine, idempotently: uv, the Python workspace
# (locked), and Java 17 + Maven for the local Kafka broker. Safe to run again: each
# step checks first and does nothing when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"

say() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  # Only root can install system packages; others get told what is missing.
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: $*; install them (e.g. sudo apt-get install $*)"
    exit 1
  fi
  say "apt-get install $*"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null 2>&1 || apt_install maven

say "uv sync (locked)"
uv sync --locked --quiet
