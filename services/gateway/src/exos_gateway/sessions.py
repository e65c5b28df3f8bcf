"""Portal sessions, kept in this process's memory.

The browser's cookie holds only a random session id with an HMAC over it: it says who
is signed in to nobody who reads it, and a guessed or altered value is refused before
any lookup. The key is made at start-up and lives as long as the sessions it signs, so
a restart signs everyone out (one gateway replica; see docs/adr/0001-portal-sessions.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    id_token: str | None = None  # the end_session_endpoint's hint at logout
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()

    def create(self, session: Session) -> str:
        """Stores the session; returns the cookie value."""
        self._drop_expired()
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = session
        return f"{session_id}.{self._sign(session_id)}"

    def _session_id(self, cookie: str | None) -> str | None:
        session_id, _, signature = (cookie or "").partition(".")
        if not session_id or not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        return session_id

    def get(self, cookie: str | None) -> Session | None:
        """The live session of a cookie (possibly with expired tokens: see
        `needs_refresh`); None for a forged, unknown or ended one."""
        session_id = self._session_id(cookie)
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            return None
        if self.clock() >= session.expires_at:
            self._sessions.pop(session_id or "", None)
            return None
        return session

    def needs_refresh(self, session: Session) -> bool:
        return self.clock() >= session.tokens_expire_at

    def delete(self, cookie: str | None) -> Session | None:
        session_id = self._session_id(cookie)
        return self._sessions.pop(session_id, None) if session_id else None

    def _drop_expired(self) -> None:
        now = self.clock()
        for session_id in [k for k, s in self._sessions.items() if now >= s.expires_at]:
            del self._sessions[session_id]

    def __len__(self) -> int:
        return len(self._sessions)
