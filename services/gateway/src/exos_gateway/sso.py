"""Portal single sign-on: the OpenID Connect authorization code flow with PKCE.

`/login` sends the browser to the provider with a fresh state, nonce and S256 code
challenge; the three are kept sealed in a short-lived cookie (any replica can finish the
sign-in), so a callback only completes in the browser that started it (no one can sign
a victim in to the attacker's account).
`/auth/callback` exchanges the code (with the verifier), checks the ID token (signature
by a key of the provider's JWKS, issuer, audience = our client id, expiry, nonce) and
opens a session. When its ID token expires the session is refreshed with the refresh
token, or ends (the next page goes back through the provider).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.httpx_client import AsyncOAuth2Client
from starlette.requests import Request

from exos_gateway.oidc_provider import OidcProvider, TokenRefused
from exos_gateway.roles import parse_group_roles, role_from_claims
from exos_gateway.sessions import Session, SessionStore
from exos_gateway.settings import GatewaySettings

LOGIN_COOKIE = "exos_login"
LOGIN_WINDOW_S = 600
CALLBACK_PATH = "/auth/callback"


class SignInFailed(Exception):
    """The callback did not sign anyone in; the message is shown to the user."""


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    next_path: str
    redirect_uri: str
    started_at: float


class PortalSignOn:
    def __init__(
        self, provider: OidcProvider, settings: GatewaySettings, sessions: SessionStore
    ) -> None:
        assert settings.gateway_oidc_client_id is not None
        self.provider = provider
        self.sessions = sessions
        self.client_id = settings.gateway_oidc_client_id
        secret = settings.gateway_oidc_client_secret
        self.client_secret = secret.get_secret_value() if secret else None
        self.redirect_url = settings.gateway_oidc_redirect_url
        self.scopes = settings.gateway_oidc_scopes
        self.max_age_s = settings.gateway_session_max_age_s
        self.roles_claim = settings.gateway_oidc_roles_claim
        self.groups_claim = settings.gateway_oidc_groups_claim
        self.group_roles = parse_group_roles(settings.group_roles_entries)

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            timeout=10,
        )

    def redirect_uri(self, request: Request) -> str:
        return self.redirect_url or str(request.base_url).rstrip("/") + CALLBACK_PATH

    async def authorization_url(self, request: Request, next_path: str) -> tuple[str, str]:
        """The provider's URL to send the browser to, and the sealed sign-in to keep in
        the browser's login cookie."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        redirect_uri = self.redirect_uri(request)
        endpoint = await self.provider.endpoint("authorization_endpoint")
        if endpoint is None:
            raise SignInFailed("the identity provider names no authorization endpoint")
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=verifier
            )
        pending = PendingSignIn(state, nonce, verifier, next_path, redirect_uri, time.time())
        return str(url), self.sessions.seal(asdict(pending))

    def _pending(self, login_cookie: str | None) -> PendingSignIn:
        if not login_cookie:
            raise SignInFailed("this sign-in was not started in this browser (state mismatch)")
        payload = self.sessions.unseal(login_cookie)
        try:
            pending = PendingSignIn(**payload) if payload is not None else None
        except TypeError:
            pending = None
        if pending is None or time.time() - pending.started_at > LOGIN_WINDOW_S:
            raise SignInFailed("this sign-in is unknown or too old; please sign in again")
        return pending

    async def complete(
        self, *, state: str, code: str, login_cookie: str | None
    ) -> tuple[str, Session, str]:
        """The cookie value of a new session, the session, and where to go next."""
        pending = self._pending(login_cookie)
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise SignInFailed("this sign-in was not started in this browser (state mismatch)")
        token_endpoint = await self.provider.endpoint("token_endpoint")
        if token_endpoint is None:
            raise SignInFailed("the identity provider names no token endpoint")
        async with self._client(pending.redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    token_endpoint,
                    code=code,
                    code_verifier=pending.code_verifier,
                    redirect_uri=pending.redirect_uri,
                )
            except Exception as exc:  # authlib raises its OAuthError or httpx errors
                raise SignInFailed(f"the code was not accepted: {exc}") from exc
        session = await self._session_from(token, nonce=pending.nonce)
        return self.sessions.create(session), session, pending.next_path

    async def _session_from(self, token: dict[str, Any], *, nonce: str | None = None) -> Session:
        id_token = token.get("id_token")
        if not id_token:
            raise SignInFailed("the identity provider sent no ID token")
        try:
            claims = await self.provider.decode(id_token, audience=self.client_id, nonce=nonce)
        except TokenRefused as exc:
            raise SignInFailed(f"the ID token was refused ({exc})") from exc
        now = self.sessions.clock()
        return Session(
            subject=str(claims["sub"]),
            name=str(claims.get("preferred_username") or claims.get("email") or claims["sub"]),
            role=role_from_claims(
                claims,
                roles_claim=self.roles_claim,
                groups_claim=self.groups_claim,
                group_roles=self.group_roles,
            ),
            method="oidc",
            expires_at=now + self.max_age_s,
            tokens_expire_at=float(claims["exp"]),
            refresh_token=token.get("refresh_token"),
        )

    async def refresh(self, session: Session) -> bool:
        """Renews an expired session's tokens; False when it cannot (refused, revoked, or
        the provider is away): the user signs in again. A new ID token is checked like the
        first and its role replaces the session's; a provider that answers a refresh
        without one has still confirmed the grant, and the role stays."""
        token_endpoint = await self.provider.endpoint("token_endpoint")
        if not session.refresh_token or token_endpoint is None:
            return False
        async with self._client() as client:
            try:
                token = await client.refresh_token(
                    token_endpoint, refresh_token=session.refresh_token
                )
                renewed = await self._session_from(token) if token.get("id_token") else None
            except Exception:
                return False
        if renewed is not None:
            session.role = renewed.role
            session.tokens_expire_at = renewed.tokens_expire_at
        else:
            lifetime = float(token.get("expires_in") or 0)
            if lifetime <= 0:
                return False
            session.tokens_expire_at = self.sessions.clock() + lifetime
        session.refresh_token = token.get("refresh_token") or session.refresh_token
        return True

    async def end_session_url(self, after: str) -> str | None:
        """The provider's logout with a way back, if it offers one (no `id_token_hint`:
        the session does not keep the ID token; the provider may ask which account)."""
        try:
            endpoint = await self.provider.endpoint("end_session_endpoint")
        except Exception:  # the local sign-out is done; the provider's is a bonus
            return None
        if endpoint is None:
            return None
        query = {"post_logout_redirect_uri": after, "client_id": self.client_id}
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
