"""`/healthz`, `/readyz` and `/metrics`, the same on every service.

Liveness checks no dependency (a broker outage must not restart every pod); readiness
runs the service's checks (Kafka, ClickHouse, ...) and answers 503 naming the ones
that failed; metrics expose the service's own Prometheus registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 5.0


async def _run_check(check: ReadinessCheck) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check()
    except Exception:  # a check that raises or hangs means "not ready"
        return False


def health_router(
    registry: CollectorRegistry,
    checks: Mapping[str, ReadinessCheck] | Callable[[], Mapping[str, ReadinessCheck]],
) -> APIRouter:
    """`checks` may be a mapping or a callable returning one (for checks whose clients
    only exist once the lifespan has started)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: dependencies answer")
    async def readyz() -> JSONResponse:
        current = checks() if callable(checks) else checks
        names = list(current)
        results = await asyncio.gather(*(_run_check(current[n]) for n in names))
        status = {
            name: ("ok" if ok else "failing") for name, ok in zip(names, results, strict=True)
        }
        ready = all(results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": status},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
