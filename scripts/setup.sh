#!/usr/bin/env bash
# Installs what EXOS needs on a fresh machine, idempotently. Safe to run again: each step
# checks first and does nothing when its tool is already there.
#
#   scripts/setup.sh up     what `exos up` needs (`make up`): uv, the workspace's runtime
#                           packages (locked, no dev group), npm and the portal's packages
#   scripts/setup.sh        everything `make test` needs on top: the dev group, Java 17 +
#                           Maven for the local Kafka broker, Debian's Chromium, the npm
#                           packages of the browser and deploy tests, and Helm
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${1:-test}"
case "$PROFILE" in
  up|test) ;;
  *) printf 'usage: %s [up|test]\n' "$0" >&2; exit 2 ;;
esac

UV_VERSION="0.13.9"
HELM_MODULE="helm.sh/helm/v3"
HELM_VERSION="v3.22.0"
HELM_K8S_MINOR="37"

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

command -v npm >/dev/null 2>&1 || apt_install nodejs npm

# npm ci only when the lock changed since the last install (it wipes node_modules).
npm_install() {
  local dir
  for dir in "$@"; do
    if [ ! -f "$dir/node_modules/.package-lock.json" ] \
       || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.exos-installed-lock"; then
      say "npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error \
        && cp package-lock.json node_modules/.exos-installed-lock)
    fi
  done
}

# The portal's vendor scripts, the rrweb player and Ask AI's page: served by `exos up`.
RUNTIME_WEB=(services/replay/web services/gateway/web services/insights/web)

if [ "$PROFILE" = up ]; then
  # --inexact: a machine that also runs the tests keeps its dev group.
  say "uv sync (locked, runtime only)"
  uv sync --locked --no-dev --inexact --quiet
  npm_install "${RUNTIME_WEB[@]}"
  exit 0
fi

command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null 2>&1 || apt_install maven
[ -x /usr/bin/chromium ] || apt_install chromium

say "uv sync (locked)"
uv sync --locked --quiet

npm_install tests/e2e/browser "${RUNTIME_WEB[@]}" tests/deploy

# Helm for the chart tests (tests/deploy), built once from the Go module proxy into the
# EXOS cache (a few minutes on 2 cores); rebuilt only when the binary is missing or is
# another version. The -X flags are the ones Helm's own Makefile sets: its version, and
# the Kubernetes version it assumes by default (1.37, from the client-go v0.37 it is
# built with; without them Helm says v1.20).
HELM_BIN="${EXOS_CACHE_DIR:-$HOME/.cache/exos}/bin/helm"
command -v go >/dev/null 2>&1 || apt_install golang-go
if [ ! -x "$HELM_BIN" ] \
   || [ "$("$HELM_BIN" version --template '{{.Version}}' 2>/dev/null)" != "$HELM_VERSION" ]; then
  say "building helm $HELM_VERSION from the Go module proxy into $(dirname "$HELM_BIN")"
  mkdir -p "$(dirname "$HELM_BIN")"
  (cd /tmp && GOBIN="$(dirname "$HELM_BIN")" go install -trimpath -ldflags "-w -s \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR" \
    "$HELM_MODULE/cmd/helm@$HELM_VERSION")
fi
