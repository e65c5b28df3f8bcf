"""Sign-in for the portal: a token (a local token, or an access token of the OIDC
issuer) is checked once and kept in an HttpOnly, SameSite=Strict session cookie, so the
portal's scripts never hold it and other sites cannot send it."""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from exos_gateway.auth import SESSION_COOKIE, Authenticator

SESSION_MAX_AGE_S = 12 * 3600


def safe_next(target: str | None) -> str:
    """Only paths of this site: no open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str, message: str = "") -> str:
    note = f"<p class='error' role='alert'>{html.escape(message)}</p>" if message else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · EXOS Analytics</title><link rel="stylesheet" href="/assets/portal.css"></head>
<body class="login"><main><h1>EXOS Analytics</h1>{note}
<form method="post" action="/auth/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button type="submit">Sign in</button></form>
<p class="hint">A token from your administrator, or an access token of your
organisation's identity provider (OIDC).</p></main></body></html>"""


def login_router(authenticator: Authenticator, *, secure_cookie: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    async def show_login(next: str = "/") -> str:
        return login_page(safe_next(next))

    @router.post("/auth/login")
    async def sign_in(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        target = safe_next((form.get("next") or ["/"])[0])
        if not token or await authenticator.verify(token) is None:
            return HTMLResponse(login_page(target, "That token was not accepted."), 401)
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            secure=secure_cookie,
            samesite="strict",
        )
        return answer

    @router.post("/auth/logout")
    async def sign_out() -> Response:
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(SESSION_COOKIE)
        return answer

    return router
