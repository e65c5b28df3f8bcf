"""Distributed mode: `/api/*` and the services' pages forwarded to the read services.

Requests and answers are streamed (an OCEL export or a replay's events are large);
hop-by-hop headers are dropped and `X-Forwarded-*` added. A credential arriving from
outside is dropped too: the gateway's own (EXOS_SERVICE_SECRET) is a default header of
the client every upstream request goes through (`upstream_client`). A service that does not answer
gives 502/504 in the usual error envelope rather than a hung request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from exos_common.service.errors import error_response
from exos_common.service.trust import CREDENTIAL_HEADER

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    base_url: str


def match(routes: Mapping[str, Upstream], path: str) -> Upstream | None:
    """The upstream of the longest route prefix that `path` is or lies under."""
    best: tuple[int, Upstream] | None = None
    for prefix, upstream in routes.items():
        if (path == prefix or path.startswith(prefix.rstrip("/") + "/")) and (
            best is None or len(prefix) > best[0]
        ):
            best = (len(prefix), upstream)
    return best[1] if best else None


def forwarded_headers(request: Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    # The upstreams trust the gateway, not the browser's credentials.
    headers.pop("authorization", None)
    headers.pop("cookie", None)
    headers.pop(CREDENTIAL_HEADER, None)
    peer = request.client.host if request.client else ""
    prior = request.headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{prior}, {peer}" if prior else peer
    headers["x-forwarded-proto"] = request.url.scheme
    headers["x-forwarded-host"] = request.headers.get("host", "")
    return headers


def upstream_client(timeout_s: float, credential: str | None) -> httpx.AsyncClient:
    """The client of every request to the read services: proxied ones, their OpenAPI
    documents and the readiness probe all carry the gateway's credential."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=5.0),
        follow_redirects=False,
        headers={CREDENTIAL_HEADER: credential} if credential else None,
    )


async def forward(client: httpx.AsyncClient, upstream: Upstream, request: Request) -> Response:
    url = httpx.URL(upstream.base_url.rstrip("/") + request.url.path).copy_with(
        query=request.url.query.encode()
    )
    outgoing = client.build_request(
        request.method, url, headers=forwarded_headers(request), content=_body(request)
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx.TimeoutException:
        return error_response(504, "upstream_timeout", f"{upstream.name} did not answer in time")
    except httpx.HTTPError as exc:
        return error_response(
            502, "upstream_unavailable", f"{upstream.name} is unavailable: {type(exc).__name__}"
        )
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=headers,
        background=BackgroundTask(answer.aclose),
    )


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk
