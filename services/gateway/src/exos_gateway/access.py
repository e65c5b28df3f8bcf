"""The door of the gateway: every request but the public few needs a verified token.

API calls without one get 401 (with `WWW-Authenticate: Bearer`); a browser asking for a
page is sent to the login page instead. Pure ASGI, so streamed proxy answers pass
through untouched.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import quote

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from exos_gateway.auth import SESSION_COOKIE, Authenticator, presented_token

# Liveness/readiness/metrics are for the kubelet and Prometheus; the login page and the
# portal's static assets (code and styles, no data) must load before anyone signed in.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/auth/", "/assets/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is the same as none
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _wants_page(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    accept = _header(scope, b"accept") or ""
    return (
        scope.get("method") == "GET"
        and not path.startswith("/api/")
        and path != "/openapi.json"
        and "text/html" in accept
    )


class AccessMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.authenticator.enforced
            or is_public(str(scope.get("path", "")))
        ):
            await self.app(scope, receive, send)
            return
        token = presented_token(_header(scope, b"authorization"), _cookie(scope, SESSION_COOKIE))
        principal = await self.authenticator.verify(token) if token else None
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send)
            return
        if _wants_page(scope):
            await _redirect_to_login(scope, send)
        else:
            await _unauthorized(send, "sign in: send `Authorization: Bearer <token>`")


async def _unauthorized(send: Send, message: str) -> None:
    body = orjson.dumps({"error": {"code": "unauthorized", "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="exos"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect_to_login(scope: Scope, send: Send) -> None:
    target = str(scope.get("path", "/"))
    query = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    location = "/login?next=" + quote(target, safe="")
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
