"""One OpenAPI document for everything behind the gateway: its own routes plus every
routed path of the read services (from their apps in the all-in-one process, from their
`/openapi.json` in distributed mode)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from exos_common.logs import get_logger
from exos_gateway.proxy import Upstream, match

log = get_logger("exos.gateway.openapi")
FRESH_S = 60.0
RETRY_S = 5.0


def merge(
    own: dict[str, Any], others: Iterable[Mapping[str, Any]], routes: Mapping[str, Upstream]
) -> dict[str, Any]:
    """`own` plus the paths of `others` that the gateway routes (not their health routes),
    and the schemas those paths refer to."""
    merged = dict(own)
    paths = dict(merged.get("paths", {}))
    schemas = dict(merged.get("components", {}).get("schemas", {}))
    for other in others:
        for path, item in other.get("paths", {}).items():
            if match(routes, path) is not None:
                paths[path] = item
        schemas.update(other.get("components", {}).get("schemas", {}))
    merged["paths"] = dict(sorted(paths.items()))
    merged.setdefault("components", {})["schemas"] = schemas
    return merged


class UpstreamDocuments:
    """The read services' documents, fetched on demand and kept for a minute (a service
    that did not answer is asked again after a few seconds)."""

    def __init__(self, client: httpx.AsyncClient, upstreams: Iterable[Upstream]) -> None:
        self._client = client
        self._upstreams = list({u.name: u for u in upstreams}.values())
        self._documents: list[Mapping[str, Any]] = []
        self._until = 0.0

    async def get(self) -> list[Mapping[str, Any]]:
        if time.monotonic() < self._until:
            return self._documents
        documents, complete = [], True
        for upstream in self._upstreams:
            try:
                answer = await self._client.get(f"{upstream.base_url.rstrip('/')}/openapi.json")
                answer.raise_for_status()
                documents.append(answer.json())
            except (httpx.HTTPError, ValueError) as exc:
                complete = False
                log.warning("openapi_unavailable", upstream=upstream.name, error=str(exc))
        self._documents = documents
        self._until = time.monotonic() + (FRESH_S if complete else RETRY_S)
        return documents


DocumentSource = Callable[[], Awaitable[list[Mapping[str, Any]]]]
