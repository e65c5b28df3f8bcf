"""Roles: what a signed-in person or service account may use.

viewer  the portal's pages and the read APIs (GET/HEAD);
analyst also the SQL console and Ask AI (every route of the insights service);
admin   everything (any method on any route).

A person's role comes from a claim of their token (`roles` by default, as Entra ID's app
roles) or from their groups through a mapping; the highest role found wins. A local
token carries its role in its configuration entry (`name:token:role`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Role(IntEnum):
    viewer = 1
    analyst = 2
    admin = 3


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Ask AI and the SQL console run arbitrary (guarded) SQL and spend LLM tokens.
ANALYST_PREFIXES = ("/api/insights", "/ask")


def parse_role(name: str) -> Role:
    try:
        return Role[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown role {name!r} (one of {', '.join(r.name for r in Role)})"
        ) from None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def required_role(method: str, path: str) -> Role:
    if any(_under(path, prefix) for prefix in ANALYST_PREFIXES):
        return Role.analyst
    return Role.viewer if method.upper() in READ_METHODS else Role.admin


@dataclass(frozen=True, slots=True)
class LocalToken:
    name: str
    token: str
    role: Role


def parse_token_entries(entries: Iterable[str]) -> list[LocalToken]:
    """`token` (an admin, as tokens were before roles), `name:token` (admin) or
    `name:token:role`."""
    parsed = []
    for number, entry in enumerate(entries, start=1):
        parts = entry.split(":")
        if len(parts) == 1:
            parsed.append(LocalToken(f"token-{number}", parts[0], Role.admin))
        elif len(parts) == 2:
            parsed.append(LocalToken(parts[0], parts[1], Role.admin))
        elif len(parts) == 3:
            parsed.append(LocalToken(parts[0], parts[1], parse_role(parts[2])))
        else:
            raise ValueError(f"token entry {number}: expected token, name:token or name:token:role")
        if not parsed[-1].token or not parsed[-1].name:
            raise ValueError(f"token entry {number}: empty name or token")
    return parsed


def parse_group_roles(entries: Iterable[str]) -> dict[str, Role]:
    """`group-id=role` entries."""
    mapping = {}
    for entry in entries:
        group, sep, role = entry.partition("=")
        if not sep or not group.strip():
            raise ValueError(f"group mapping {entry!r}: expected group-id=role")
        mapping[group.strip()] = parse_role(role)
    return mapping


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def role_from_claims(
    claims: Mapping[str, Any],
    *,
    roles_claim: str,
    groups_claim: str,
    group_roles: Mapping[str, Role],
) -> Role | None:
    """The highest role the token's role names or groups give; None when it has none.
    Role names the gateway does not know are ignored (other apps' roles)."""
    found: list[Role] = []
    for name in _as_list(claims.get(roles_claim)):
        if name.lower() in Role.__members__:
            found.append(Role[name.lower()])
    for group in _as_list(claims.get(groups_claim)):
        if group in group_roles:
            found.append(group_roles[group])
    return max(found) if found else None
