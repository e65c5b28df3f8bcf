"""Portal sessions, sealed in the browser's cookie (see docs/adr/0001-portal-sessions.md).

The cookie is the session encrypted and authenticated (Fernet: AES-128-CBC + HMAC-SHA256)
with a key derived from EXOS_GATEWAY_SESSION_SECRET, so every gateway replica reads the
sessions any replica opened; the browser can neither read it (the refresh token is in
it) nor change it (its role and expiry are). The ID token is not kept: it would push the
cookie past browsers' 4 KB limit.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from exos_gateway.roles import Role

SESSION_COOKIE = "exos_session"


@dataclass(slots=True)
class Session:
    subject: str
    name: str
    role: Role | None
    method: str  # "oidc" or "tokens"
    expires_at: float  # the whole session's end: then a new sign-in
    tokens_expire_at: float  # the ID token's end: then refresh, or a new sign-in
    refresh_token: str | None = None
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class SessionStore:
    """Seals and opens sessions (and other short-lived state of a sign-in). Without a
    secret the key is made at start-up: fine for one process (`exos up`), not for
    replicas, which is why production requires the secret."""

    def __init__(self, secret: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        material = secret if secret is not None else secrets.token_hex(32)
        key = hashlib.sha256(b"exos-portal-session\0" + material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(zlib.compress(orjson.dumps(payload))).decode("ascii")

    def unseal(self, value: str | None) -> dict[str, Any] | None:
        """The payload of a value this store sealed; None for anything else."""
        if not value:
            return None
        try:
            payload = orjson.loads(zlib.decompress(self._fernet.decrypt(value.encode("ascii"))))
        except (InvalidToken, UnicodeEncodeError, zlib.error, orjson.JSONDecodeError):
            return None
        return payload if isinstance(payload, dict) else None

    def create(self, session: Session) -> str:
        """The cookie value holding the session."""
        payload = asdict(session)
        payload["role"] = session.role.name if session.role is not None else None
        return self.seal(payload)

    def get(self, cookie: str | None) -> Session | None:
        """The session of a cookie while it lasts (possibly with expired tokens: see
        `needs_refresh`); None for a forged, altered or ended one."""
        payload = self.unseal(cookie)
        if payload is None:
            return None
        try:
            role = payload.pop("role")
            session = Session(role=Role[role] if role else None, **payload)
        except (KeyError, TypeError):
            return None
        return session if self.clock() < session.expires_at else None

    def needs_refresh(self, session: Session) -> bool:
        return self.clock() >= session.tokens_expire_at

    def remaining_s(self, session: Session) -> int:
        return max(0, int(session.expires_at - self.clock()))


def cookie_header(value: str, *, max_age_s: int, secure: bool) -> bytes:
    """A `set-cookie` value for the session cookie, as the login routes set it."""
    parts = [f"{SESSION_COOKIE}={value}", "Path=/", f"Max-Age={max_age_s}", "HttpOnly"]
    parts.append("SameSite=Lax")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")
