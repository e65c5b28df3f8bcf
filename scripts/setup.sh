#!/usr/bin/env bash
# Installs what EXOS needs on a fresh machine, idempotently: uv, the Python workspace
# (locked), Java 17 + Maven for the local Kafka broker, Debian's Chromium and the npm
# packages of the browser tests (the real HyperDX SDK). Safe to run again: each step
# checks first and does nothing when its tool is already there.
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
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
[ -x /usr/bin/chromium ] || apt_install chromium

say "uv sync (locked)"
uv sync --locked --quiet

# npm ci only when the lock changed since the last install (it wipes node_modules).
for dir in tests/e2e/browser services/replay/web; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
     || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.exos-installed-lock"; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error \
      && cp package-lock.json node_modules/.exos-installed-lock)
  fi
done
