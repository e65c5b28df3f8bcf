"""Browser-side defences on every answer of the gateway, and the refusal of
state-changing requests sent by other sites.

The Content-Security-Policy allows scripts only from this origin: the portal, the Ask
AI and replay pages, and the API docs load every script from files (no inline scripts).
Styles may be inline because the replay player rebuilds recorded pages, whose styles
are inline, and charts set element styles; images may come from any HTTPS host because
a recorded page's images do. Nothing may frame the gateway's pages (clickjacking): the
replay player frames only its own rebuilt document, which `frame-ancestors` does not
restrict.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exos_gateway.settings import GatewaySettings

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def content_security_policy(settings: GatewaySettings) -> str:
    connect = ["'self'"]
    if settings.gateway_instrument:
        # The portal's own telemetry goes to ingest, usually another origin.
        parts = urlsplit(settings.gateway_instrument_url)
        connect.append(f"{parts.scheme}://{parts.netloc}")
    form_action = ["'self'"]
    if settings.gateway_auth == "oidc" and settings.gateway_oidc_issuer:
        # Sign-out posts to the gateway, which redirects to the provider's logout:
        # browsers hold that redirect to the form's `form-action` too.
        parts = urlsplit(settings.gateway_oidc_issuer)
        form_action.append(f"{parts.scheme}://{parts.netloc}")
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": connect,
        "frame-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": form_action,
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(settings: GatewaySettings) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(settings).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k not in self.names]
                message = {**message, "headers": [*kept, *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def foreign_origin(scope: Scope) -> str | None:
    """The Origin of a state-changing request when it is not this site's own; browsers
    send Origin on every cross-site POST, so a form or fetch of another site is caught
    even when a cookie rides along. API clients send no Origin and pass."""
    if scope.get("method") not in STATE_CHANGING:
        return None
    origin = _header(scope, b"origin")
    if origin is None:
        return None
    host = _header(scope, b"host") or ""
    if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
        return origin
    return None


class SameOriginMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = foreign_origin(scope) if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            {"error": {"code": "foreign_origin", "message": f"requests from {origin} are refused"}}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
