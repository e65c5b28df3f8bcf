# syntax=docker/dockerfile:1.10
# One image for every EXOS service: `exos serve SERVICE` (ingest, enrich, writer,
# query-api, replay, insights, gateway) and `exos migrate`. Build from the repository root:
#
#   docker build -t exos:0.1.0 .                       # default command: serve gateway
#   docker build --build-arg SERVICE=ingest -t exos-ingest:0.1.0 .
#
# The chart and docker-compose run this one image with `serve <service>` / `migrate`.
# It runs as an unprivileged user on a read-only root filesystem: the only writes go to
# /tmp (EXOS_CACHE_DIR), which Kubernetes mounts as an emptyDir and compose as a tmpfs.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:22.20.0-bookworm-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# Front-end packages the services serve (services/<name>/web/package.json: the rrweb
# player, the portal's vendor scripts), each installed from its own lock; a `build`
# script, if one appears, runs too. New web folders need no change here.
FROM ${NODE_IMAGE} AS web
WORKDIR /src
COPY services/ services/
RUN set -eu; \
    mkdir -p /out/services; \
    for manifest in services/*/web/package.json; do \
      [ -e "$manifest" ] || continue; \
      dir="$(dirname "$manifest")"; \
      (cd "$dir" \
        && npm ci --no-audit --no-fund --loglevel=error \
        && npm run build --if-present \
        && npm prune --omit=dev --no-audit --no-fund --loglevel=error); \
      mkdir -p "/out/$dir"; \
      cp -a "$dir/." "/out/$dir/"; \
    done

# Only the manifests, so the dependency layer below is rebuilt when a pyproject.toml or
# uv.lock changes, not when code does.
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name pyproject.toml ! -name uv.lock -delete \
    && find . -type d -empty -delete

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY --from=manifests /src/ /app/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-workspace
COPY . /app/
# Workspace members are installed editable: services find files next to their code
# (services/replay/web, services/gateway/web, docs/) exactly as in the repository.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE=gateway
RUN groupadd --system --gid 10001 exos \
    && useradd --system --uid 10001 --gid exos --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin exos
WORKDIR /app
# Owned by root and not writable by the service user.
COPY --from=build /app /app
COPY --from=web /out/services/ /app/services/
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    EXOS_CACHE_DIR=/tmp/exos-cache \
    EXOS_HTTP_HOST=0.0.0.0 \
    EXOS_SERVICE=${SERVICE}
USER 10001:10001
# OTLP/HTTP (ingest), enrich, writer, query-api, replay, insights, gateway.
EXPOSE 4318 8091 8092 8093 8094 8095 8080
# No HEALTHCHECK: the port depends on the service. Kubernetes probes /healthz and
# /readyz (the chart), docker-compose declares a healthcheck per service.
ENTRYPOINT ["exos"]
CMD ["serve"]
