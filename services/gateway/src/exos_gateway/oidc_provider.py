"""The OpenID Connect provider as the gateway sees it: its discovery document and the
checks every token of it passes (signature by a key of its JWKS, issuer, audience,
expiry, and the nonce of an ID token). Keys are cached by PyJWT's client and fetched
again when a token names an unknown key id (key rotation)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt

LEEWAY_S = 30


class TokenRefused(Exception):
    """A token that fails a check; the message says which."""


class OidcProvider:
    def __init__(self, issuer: str, jwks_url: str | None, algorithms: list[str]) -> None:
        self.issuer = issuer.rstrip("/")
        self.algorithms = algorithms
        self._jwks_url = jwks_url
        self._metadata: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                self._metadata = dict(answer.json())
        return self._metadata

    async def endpoint(self, name: str) -> str | None:
        value = (await self.metadata()).get(name)
        return str(value) if value else None

    async def _jwks_client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = self._jwks_url or str((await self.metadata())["jwks_uri"])
            self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300)
        return self._jwks

    async def decode(
        self, token: str, *, audience: str, nonce: str | None = None
    ) -> dict[str, Any]:
        """The token's claims once every check passed; TokenRefused otherwise."""
        try:
            client = await self._jwks_client()
            claims = await asyncio.to_thread(self._decode, client, token, audience)
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError) as exc:
            raise TokenRefused(f"{type(exc).__name__}: {exc}") from exc
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenRefused("the ID token's nonce is not the one this sign-in sent")
        return claims

    def _decode(self, client: jwt.PyJWKClient, token: str, audience: str) -> dict[str, Any]:
        return jwt.decode(
            token,
            self._signing_key(client, token).key,
            algorithms=self.algorithms,
            audience=audience,
            issuer=self.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )

    @staticmethod
    def _signing_key(client: jwt.PyJWKClient, token: str) -> jwt.PyJWK:
        if "kid" in jwt.get_unverified_header(token):
            return client.get_signing_key_from_jwt(token)
        # A token may omit its key id when the provider has one key; with several,
        # guessing would be accepting any of them.
        keys = client.get_signing_keys()
        if len(keys) != 1:
            raise jwt.InvalidTokenError("the token names no key and the provider has several")
        return keys[0]
