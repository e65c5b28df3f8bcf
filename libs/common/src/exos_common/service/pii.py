"""Who sees personal data in the read services' answers.

The rule: e-mails, user names and client IPs are shown, and session replays (the
recording, its drill-down tabs and heatbar, the player page) and the SQL console are
served, only to the roles of EXOS_PII_ROLES (analyst and admin by default). Any other
role gets those fields replaced by MASK and the replay or console refused with 403.

The role is the `X-Exos-Role` the gateway sets (the trust middleware believes it only
with the gateway's credential, and names `viewer` when the gateway named none). A
request with no role at all reaches a read service only where nothing checks who asks
(a test's app, or EXOS_READ_ALLOW_ANONYMOUS=true): there everything is shown, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from exos_common.service.trust import ROLE_HEADER
from exos_common.settings import ServiceTrustSettings

MASK = "[masked]"


@dataclass(frozen=True, slots=True)
class PiiPolicy:
    roles: frozenset[str]

    @classmethod
    def from_settings(cls, settings: ServiceTrustSettings) -> PiiPolicy:
        return cls(settings.roles_seeing_pii)

    def allows(self, role: str | None) -> bool:
        return role is None or role.strip().lower() in self.roles

    def access(self) -> Callable[[Request], bool]:
        """FastAPI dependency: may the caller see personal data?"""

        def may_see_pii(request: Request) -> bool:
            return self.allows(request.headers.get(ROLE_HEADER))

        return may_see_pii

    def required(self, what: str) -> Callable[[Request], None]:
        """FastAPI dependency refusing (403, with the reason) callers who may not."""

        def require_pii(request: Request) -> None:
            role = request.headers.get(ROLE_HEADER)
            if not self.allows(role):
                allowed = ", ".join(sorted(self.roles)) or "no role"
                raise HTTPException(
                    403,
                    f"{what} shows personal data: the {role} role may not see it "
                    f"(allowed: {allowed}; EXOS_PII_ROLES)",
                )

        return require_pii


def mask(value: str, visible: bool) -> str:
    """The value itself, or MASK when it is hidden (empty stays empty: nothing to hide)."""
    return value if visible or not value else MASK
