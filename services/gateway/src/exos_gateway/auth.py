"""Who may use the portal and `/api`: bearer tokens (local tokens of service accounts,
OIDC access tokens), portal sessions (see `sessions.py`), or nobody asks.

A bearer token arrives as `Authorization: Bearer <token>`; the portal's browser holds a
session cookie instead (`login.py`, `sso.py`). Each way ends in a Principal with a role.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from exos_common.service.keys import presented_key
from exos_gateway.oidc_provider import OidcProvider, TokenRefused
from exos_gateway.roles import (
    LocalToken,
    Role,
    parse_group_roles,
    parse_token_entries,
    role_from_claims,
)
from exos_gateway.settings import GatewaySettings


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    method: str
    role: Role | None  # None: signed in, but given no role (403)
    name: str = ""


class Authenticator(Protocol):
    enforced: bool

    async def verify(self, token: str) -> Principal | None: ...


class OpenAccess:
    """`EXOS_GATEWAY_AUTH=none`: the all-in-one process on localhost."""

    enforced = False

    async def verify(self, token: str) -> Principal | None:
        return Principal("anonymous", "none", Role.admin, "anonymous")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class LocalTokens:
    """Compared as SHA-256 digests with `hmac.compare_digest`, against every entry with
    no early exit, so the time taken tells nothing about how close a guess was."""

    enforced = True

    def __init__(self, entries: list[LocalToken]) -> None:
        self._entries = [(_digest(e.token), e) for e in entries]

    async def verify(self, token: str) -> Principal | None:
        if not token:
            return None
        candidate = _digest(token)
        found: LocalToken | None = None
        for digest, entry in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = entry
        return Principal(found.name, "tokens", found.role, found.name) if found else None


class OidcTokens:
    """Access tokens of the issuer addressed to this API (`aud`); role from their claims."""

    enforced = True

    def __init__(self, provider: OidcProvider, audience: str, settings: GatewaySettings) -> None:
        self.provider = provider
        self.audience = audience
        self.roles_claim = settings.gateway_oidc_roles_claim
        self.groups_claim = settings.gateway_oidc_groups_claim
        self.group_roles = parse_group_roles(settings.group_roles_entries)

    async def verify(self, token: str) -> Principal | None:
        try:
            claims = await self.provider.decode(token, audience=self.audience)
        except TokenRefused:
            return None
        role = role_from_claims(
            claims,
            roles_claim=self.roles_claim,
            groups_claim=self.groups_claim,
            group_roles=self.group_roles,
        )
        name = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
        return Principal(str(claims["sub"]), "oidc", role, name)


class AnyOf:
    """OIDC for people, local tokens for service accounts, side by side."""

    enforced = True

    def __init__(self, *authenticators: Authenticator) -> None:
        self._authenticators = authenticators

    async def verify(self, token: str) -> Principal | None:
        for authenticator in self._authenticators:
            principal = await authenticator.verify(token)
            if principal is not None:
                return principal
        return None


def create_provider(settings: GatewaySettings) -> OidcProvider | None:
    if settings.gateway_auth != "oidc" or not settings.gateway_oidc_issuer:
        return None
    return OidcProvider(
        settings.gateway_oidc_issuer, settings.gateway_oidc_jwks_url, settings.oidc_algorithms
    )


def create_authenticator(
    settings: GatewaySettings, provider: OidcProvider | None = None
) -> Authenticator:
    local = LocalTokens(parse_token_entries(settings.tokens))
    if settings.gateway_auth == "tokens":
        return local
    if settings.gateway_auth == "oidc":
        provider = provider or create_provider(settings)
        assert provider is not None and settings.gateway_oidc_audience  # checked by settings
        oidc = OidcTokens(provider, settings.gateway_oidc_audience, settings)
        return AnyOf(oidc, local) if settings.tokens else oidc
    return OpenAccess()


def bearer_token(authorization: str | None) -> str:
    return presented_key(authorization) if authorization else ""
