"""The door of the gateway: every request but the public few needs a principal (a
verified bearer token or a live portal session) whose role allows the route.

No principal: API calls get 401 (with `WWW-Authenticate: Bearer`), a browser asking for
a page is sent to the login page. A principal without the role: 403 with the reason.
The read services learn who is asking from `X-Exos-User` and `X-Exos-Role`, set here
only: copies arriving from outside are removed first. Pure ASGI, so streamed proxy
answers pass through untouched.
"""

from __future__ import annotations

import html
from http.cookies import SimpleCookie
from urllib.parse import quote

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exos_gateway.auth import Authenticator, Principal, bearer_token
from exos_gateway.roles import Role, required_role
from exos_gateway.sessions import SESSION_COOKIE, Session, SessionStore, cookie_header
from exos_gateway.sso import PortalSignOn

# Liveness/readiness/metrics are for the kubelet and Prometheus; the login page and the
# portal's static assets (code and styles, no data) must load before anyone signed in.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/auth/", "/assets/")
USER_HEADER = b"x-exos-user"
ROLE_HEADER = b"x-exos-role"
IDENTITY_HEADERS = frozenset({USER_HEADER, ROLE_HEADER})


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


def session_principal(session: Session) -> Principal:
    return Principal(session.subject, session.method, session.role, session.name)


class AccessMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        sessions: SessionStore,
        sign_on: PortalSignOn | None = None,
        secure_cookie: bool = True,
    ) -> None:
        self.app = app
        self.secure_cookie = secure_cookie
        self.authenticator = authenticator
        self.sessions = sessions
        self.sign_on = sign_on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["headers"] = [
            (k, v) for k, v in scope.get("headers", ()) if k not in IDENTITY_HEADERS
        ]
        if is_public(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        principal = await self._principal(scope)
        send = self._with_session_cookie(scope, send)
        if principal is None:
            if _wants_page(scope):
                await _redirect_to_login(scope, send)
            else:
                await _refuse(
                    send, 401, "unauthorized", "sign in: send `Authorization: Bearer <token>`"
                )
            return
        needed = required_role(str(scope.get("method", "GET")), str(scope.get("path", "")))
        if principal.role is None or principal.role < needed:
            session = scope.get("state", {}).get("session")
            await _refuse(
                send,
                403,
                "forbidden",
                _denial(principal, needed),
                page=_wants_page(scope),
                csrf=session.csrf_token if session is not None else None,
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        scope["headers"] = [
            *scope["headers"],
            (USER_HEADER, principal.subject.encode("utf-8")),
            (ROLE_HEADER, principal.role.name.encode()),
        ]
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal | None:
        if not self.authenticator.enforced:
            return await self.authenticator.verify("")
        authorization = _header(scope, b"authorization")
        if authorization:
            return await self.authenticator.verify(bearer_token(authorization))
        cookie = _cookie(scope, SESSION_COOKIE)
        session = self.sessions.get(cookie)
        if session is None:
            if cookie:  # forged, altered or ended: the browser may drop it
                scope.setdefault("state", {})["session_cookie"] = b""
            return None
        if self.sessions.needs_refresh(session):
            renewed = self.sign_on is not None and await self.sign_on.refresh(session)
            if not renewed:
                scope.setdefault("state", {})["session_cookie"] = b""
                return None
            # The renewed session travels back in the cookie.
            scope.setdefault("state", {})["session_cookie"] = self.sessions.create(session)
        scope.setdefault("state", {})["session"] = session
        return session_principal(session)

    def _with_session_cookie(self, scope: Scope, send: Send) -> Send:
        """`send`, adding the session cookie the request's handling renewed or ended."""
        value = scope.get("state", {}).get("session_cookie")
        if value is None:
            return send
        secure = self.secure_cookie or scope.get("scheme") == "https"
        session = scope.get("state", {}).get("session")
        if value and session is not None:
            header = cookie_header(
                value, max_age_s=self.sessions.remaining_s(session), secure=secure
            )
        else:
            header = cookie_header("", max_age_s=0, secure=secure)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"set-cookie", header)]
                message = {**message, "headers": headers}
            await send(message)

        return sending


def _denial(principal: Principal, needed: Role) -> str:
    who = principal.name or principal.subject
    if principal.role is None:
        return (
            f"{who} is signed in but has no EXOS role: ask an administrator to assign "
            "viewer, analyst or admin"
        )
    return f"{who} has the {principal.role.name} role; this needs {needed.name}"


async def _refuse(
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    page: bool = False,
    csrf: str | None = None,
) -> None:
    if page:
        # Someone signed in with the wrong account can switch from here.
        sign_out = (
            '<form method="post" action="/auth/logout"><input type="hidden" name="csrf" '
            f'value="{html.escape(csrf)}"><button type="submit">Sign out</button></form>'
            if csrf
            else ""
        )
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not allowed'
            ' · EXOS Analytics</title><link rel="stylesheet" href="/assets/portal.css"></head>'
            f'<body class="login"><main><h1>Not allowed</h1><p class="error" role="alert">'
            f"{html.escape(message)}</p>{sign_out}</main></body></html>"
        ).encode()
        kind = b"text/html; charset=utf-8"
    else:
        body = orjson.dumps({"error": {"code": code, "message": message}})
        kind = b"application/json"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="exos"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
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
