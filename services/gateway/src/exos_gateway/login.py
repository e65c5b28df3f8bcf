"""Sign-in and sign-out for the portal.

With OIDC sign-in configured, `/login` sends the browser to the identity provider
(`sso.py`); `/login?method=token` and local-token installs show a form for a token
(service accounts, `exos up` with tokens). Either way the browser gets a session cookie
holding the sealed session (`sessions.py`; never a token it could use), HttpOnly, Secure
over TLS or when the settings say so, SameSite=Lax so the provider's redirect back
carries it. Sign-out is a POST carrying the session's CSRF token.
"""

from __future__ import annotations

import hmac
import html
import time
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from exos_gateway.auth import Authenticator
from exos_gateway.sessions import SESSION_COOKIE, Session, SessionStore
from exos_gateway.settings import GatewaySettings
from exos_gateway.sso import LOGIN_COOKIE, LOGIN_WINDOW_S, PortalSignOn, SignInFailed


def safe_next(target: str | None) -> str:
    """Only paths of this site: no open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str, message: str = "", *, sso: bool = False) -> str:
    note = f"<p class='error' role='alert'>{html.escape(message)}</p>" if message else ""
    company = (
        f"<p><a class='button' href='/login?next={quote(next_path, safe='')}'>"
        "Sign in with your company account</a></p>"
        if sso
        else ""
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · EXOS Analytics</title><link rel="stylesheet" href="/assets/portal.css"></head>
<body class="login"><main><h1>EXOS Analytics</h1>{note}{company}
<form method="post" action="/auth/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button type="submit">Sign in</button></form>
<p class="hint">A token from your administrator (service accounts).</p></main></body></html>"""


def message_page(title: str, message: str, status: int, *, link: str = "/login") -> HTMLResponse:
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} · EXOS Analytics</title>
<link rel="stylesheet" href="/assets/portal.css"></head>
<body class="login"><main><h1>{html.escape(title)}</h1>
<p class="error" role="alert">{html.escape(message)}</p>
<p><a href="{html.escape(link)}">Sign in</a></p></main></body></html>"""
    return HTMLResponse(body, status)


def _cookie_secure(request: Request, settings: GatewaySettings) -> bool:
    return settings.gateway_cookie_secure or request.url.scheme == "https"


def _open_session(
    request: Request, settings: GatewaySettings, cookie: str, target: str
) -> RedirectResponse:
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.gateway_session_max_age_s,
        httponly=True,
        secure=_cookie_secure(request, settings),
        samesite="lax",
    )
    return answer


def login_router(
    authenticator: Authenticator,
    sessions: SessionStore,
    settings: GatewaySettings,
    sign_on: PortalSignOn | None,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_model=None)
    async def show_login(
        request: Request, next: str = "/", method: str = "", signed_out: str = ""
    ) -> Response:
        target = safe_next(next)
        if sign_on is None or method == "token" or signed_out:
            note = "You are signed out." if signed_out else ""
            return HTMLResponse(login_page(target, note, sso=sign_on is not None))
        try:
            url, pending = await sign_on.authorization_url(request, target)
        except Exception as exc:  # provider unreachable or misconfigured
            return message_page("Sign-in unavailable", f"identity provider: {exc}", 503)
        answer = RedirectResponse(url, status_code=303)
        answer.set_cookie(
            LOGIN_COOKIE,
            pending,
            max_age=LOGIN_WINDOW_S,
            httponly=True,
            secure=_cookie_secure(request, settings),
            samesite="lax",
            path="/auth/callback",
        )
        return answer

    @router.get("/auth/callback", response_model=None)
    async def callback(
        request: Request, state: str = "", code: str = "", error: str = ""
    ) -> Response:
        if sign_on is None:
            return message_page("Sign-in failed", "single sign-on is not configured", 404)
        if error:
            return message_page("Sign-in failed", f"the identity provider said: {error}", 401)
        try:
            cookie, _, target = await sign_on.complete(
                state=state, code=code, login_cookie=request.cookies.get(LOGIN_COOKIE)
            )
        except SignInFailed as exc:
            return message_page("Sign-in failed", str(exc), 401)
        answer = _open_session(request, settings, cookie, target)
        answer.delete_cookie(LOGIN_COOKIE, path="/auth/callback")
        return answer

    @router.post("/auth/login")
    async def sign_in(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        target = safe_next((form.get("next") or ["/"])[0])
        principal = await authenticator.verify(token) if token else None
        if principal is None or not authenticator.enforced:
            page = login_page(target, "That token was not accepted.", sso=sign_on is not None)
            return HTMLResponse(page, 401)
        now = time.time()
        end = now + settings.gateway_session_max_age_s
        session = Session(principal.subject, principal.name, principal.role, "tokens", end, end)
        return _open_session(request, settings, sessions.create(session), target)

    @router.post("/auth/logout")
    async def sign_out(request: Request) -> Response:
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        presented = (form.get("csrf") or [""])[0]
        if session is None or not hmac.compare_digest(presented, session.csrf_token):
            return message_page(
                "Sign-out refused", "the request did not come from this portal's page", 403
            )
        after = str(request.base_url).rstrip("/") + "/login?signed_out=1"
        provider_logout = (
            await sign_on.end_session_url(after)
            if sign_on is not None and session.method == "oidc"
            else None
        )
        answer = RedirectResponse(provider_logout or "/login?signed_out=1", status_code=303)
        answer.delete_cookie(SESSION_COOKIE)
        return answer

    return router
