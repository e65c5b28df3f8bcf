"""Service-to-service trust: the read services answer only the gateway.

The gateway authenticates people (tokens, OIDC, portal sessions) and forwards their
requests with a shared secret in `X-Exos-Service-Credential` and the person's role in
`X-Exos-Role`. A read service checks the secret (SHA-256 digests compared with
`hmac.compare_digest`, so the time taken tells nothing about a guess) and only then
believes the role header. Probes and the scraper (`/healthz`, `/readyz`, `/metrics`)
stay open: the kubelet and Prometheus hold no secret.

In `exos up` the gateway mounts the read services' routes in its own process, so the
check is the gateway's own and no secret is needed.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from exos_common.logs import get_logger
from exos_common.settings import ServiceTrustSettings

CREDENTIAL_HEADER = "x-exos-service-credential"
ROLE_HEADER = "x-exos-role"
USER_HEADER = "x-exos-user"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# A request the gateway vouched for without naming a role gets the least one.
DEFAULT_ROLE = b"viewer"

log = get_logger("exos.trust")


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class ServiceTrustMiddleware:
    """401 with a reason for any request but the open paths that lacks the gateway's
    credential. Pure ASGI, so streamed answers pass through untouched."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        if not secret:
            raise ValueError("the service secret must not be empty")
        self.app = app
        self._digest = _digest(secret.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", ()))
        refusal = self._refusal([v for k, v in headers if k == CREDENTIAL_HEADER.encode()])
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # policy violation
            else:
                await _refuse(send, *refusal)
            return
        kept = [(k, v) for k, v in headers if k != CREDENTIAL_HEADER.encode()]
        if not any(k == ROLE_HEADER.encode() for k, _ in kept):
            kept.append((ROLE_HEADER.encode(), DEFAULT_ROLE))
        scope["headers"] = kept
        await self.app(scope, receive, send)

    def _refusal(self, presented: list[bytes]) -> tuple[str, str] | None:
        """None when exactly one credential was sent and it is the secret; otherwise the
        error code and message."""
        if not presented:
            return (
                "service_credential_missing",
                "this service answers the gateway only: the request has no "
                "X-Exos-Service-Credential (go through the gateway)",
            )
        if len(presented) > 1 or not hmac.compare_digest(_digest(presented[0]), self._digest):
            return (
                "service_credential_invalid",
                "the X-Exos-Service-Credential does not match this service's EXOS_SERVICE_SECRET",
            )
        return None


async def _refuse(send: Send, code: str, message: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'ExosService realm="exos"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def refuse_anonymous_distributed(service: str, trust: ServiceTrustSettings) -> None:
    """A read service on its own port (`exos serve`) must be opened on purpose."""
    if trust.service_secret is not None:
        return
    if not trust.read_allow_anonymous:
        raise ValueError(
            f"{service} refuses to start without EXOS_SERVICE_SECRET (the gateway's "
            "credential), or EXOS_READ_ALLOW_ANONYMOUS=true to let anyone who reaches it read "
            "everything"
        )
    log.warning(
        "read_service_open",
        service=service,
        message="EXOS_SERVICE_SECRET is unset: anyone reaching this service reads everything",
    )


def install_service_trust(app: FastAPI, trust: ServiceTrustSettings) -> None:
    """Require the gateway's credential when a secret is set. Where none is, `exos serve`
    has refused to start unless anonymous access was allowed; in `exos up` the gateway
    mounts the routes in its own process and this middleware is not on their path."""
    if trust.service_secret is not None:
        app.add_middleware(ServiceTrustMiddleware, secret=trust.service_secret.get_secret_value())
