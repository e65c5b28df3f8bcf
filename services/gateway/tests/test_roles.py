"""Roles as pure functions: which role a route needs, which role a token's claims give,
and the group mapping's format."""

from __future__ import annotations

from typing import Any

import pytest

from exos_gateway.roles import Role, parse_group_roles, required_role, role_from_claims


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/", Role.viewer),
        ("GET", "/api/process/map", Role.viewer),
        ("HEAD", "/api/sessions", Role.viewer),
        ("OPTIONS", "/api/stats", Role.viewer),
        ("GET", "/replay/s-1", Role.viewer),
        ("GET", "/api/insights/cookbook", Role.analyst),
        ("POST", "/api/insights/sql", Role.analyst),
        ("POST", "/api/insights/ask", Role.analyst),
        ("GET", "/ask", Role.analyst),
        ("GET", "/ask/assets/ask.js", Role.analyst),
        ("GET", "/asking", Role.viewer),  # a prefix is a whole path segment
        ("GET", "/api/insightsx", Role.viewer),
        ("POST", "/api/stats", Role.admin),
        ("DELETE", "/api/sessions/s-1", Role.admin),
        ("post", "/api/process", Role.admin),
    ],
)
def test_required_role(method: str, path: str, expected: Role) -> None:
    assert required_role(method, path) is expected


GROUPS = {"g-view": Role.viewer, "g-ana": Role.analyst, "g-adm": Role.admin}


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"roles": ["viewer"]}, Role.viewer),
        ({"roles": "analyst"}, Role.analyst),  # one role as a string
        ({"roles": ["Admin"]}, Role.admin),  # Entra app role values keep their case
        ({"roles": ["viewer", "analyst"]}, Role.analyst),  # the highest wins
        ({"roles": ["Task.Write", "superuser"]}, None),  # other applications' roles
        ({"roles": None}, None),
        ({"roles": {"admin": True}}, None),  # not a list of names
        ({}, None),
        ({"groups": ["g-other", "g-ana"]}, Role.analyst),
        ({"groups": ["g-view"], "roles": ["admin"]}, Role.admin),
        ({"groups": ["g-adm"], "roles": ["viewer"]}, Role.admin),
        ({"groups": "g-view"}, Role.viewer),
    ],
)
def test_role_from_claims(claims: dict[str, Any], expected: Role | None) -> None:
    found = role_from_claims(claims, roles_claim="roles", groups_claim="groups", group_roles=GROUPS)
    assert found is expected


def test_the_claim_names_are_configurable() -> None:
    claims = {"exos_roles": ["analyst"], "roles": ["admin"], "wids": ["g-adm"]}
    found = role_from_claims(claims, roles_claim="exos_roles", groups_claim="wids", group_roles={})
    assert found is Role.analyst


def test_group_mapping_format() -> None:
    assert parse_group_roles(["7f3a=analyst", " 9c1b = Viewer "]) == {
        "7f3a": Role.analyst,
        "9c1b": Role.viewer,
    }
    for bad in (["7f3a"], ["=analyst"], ["7f3a=owner"]):
        with pytest.raises(ValueError):
            parse_group_roles(bad)
