"""Who may use the portal and `/api`: local tokens, OIDC bearer tokens, or nobody asks.

A token arrives as `Authorization: Bearer <token>` (API clients) or in the portal's
session cookie (set by `/auth/login` after the same check). OIDC tokens are JWTs checked
against the issuer's JWKS (signature, `iss`, `aud`, `exp`); keys are cached by PyJWT's
client and refreshed when a token names an unknown key id (key rotation).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt

from exos_common.service.keys import ApiKeys, presented_key
from exos_gateway.settings import GatewaySettings

SESSION_COOKIE = "exos_session"
LEEWAY_S = 30


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    method: str


class Authenticator(Protocol):
    enforced: bool

    async def verify(self, token: str) -> Principal | None: ...


class OpenAccess:
    """`EXOS_GATEWAY_AUTH=none`: the all-in-one process on localhost."""

    enforced = False

    async def verify(self, token: str) -> Principal | None:
        return Principal("anonymous", "none")


class LocalTokens:
    enforced = True

    def __init__(self, tokens: list[str]) -> None:
        self._keys = ApiKeys(tokens)

    async def verify(self, token: str) -> Principal | None:
        return Principal("token", "tokens") if token and self._keys.allows(token) else None


class OidcTokens:
    enforced = True

    def __init__(
        self, issuer: str, audience: str | None, jwks_url: str | None, algorithms: list[str]
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = algorithms
        self._jwks_url = jwks_url
        self._client: jwt.PyJWKClient | None = None

    async def _jwks_client(self) -> jwt.PyJWKClient:
        if self._client is None:
            url = self._jwks_url or await self._discover_jwks_url()
            self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300)
        return self._client

    async def _discover_jwks_url(self) -> str:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(f"{self.issuer}/.well-known/openid-configuration")
            answer.raise_for_status()
            return str(answer.json()["jwks_uri"])

    async def verify(self, token: str) -> Principal | None:
        try:
            client = await self._jwks_client()
            claims = await asyncio.to_thread(self._decode, client, token)
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError):
            return None
        return Principal(str(claims.get("sub", "")), "oidc")

    def _decode(self, client: jwt.PyJWKClient, token: str) -> dict[str, Any]:
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key.key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "sub"], "verify_aud": self.audience is not None},
        )


def create_authenticator(settings: GatewaySettings) -> Authenticator:
    if settings.gateway_auth == "tokens":
        return LocalTokens(settings.tokens)
    if settings.gateway_auth == "oidc":
        assert settings.gateway_oidc_issuer is not None  # checked by the settings
        return OidcTokens(
            settings.gateway_oidc_issuer,
            settings.gateway_oidc_audience,
            settings.gateway_oidc_jwks_url,
            settings.oidc_algorithms,
        )
    return OpenAccess()


def presented_token(authorization: str | None, cookie: str | None) -> str:
    """The bearer token of a request: the header first, else the portal's cookie."""
    if authorization:
        return presented_key(authorization)
    return cookie or ""
