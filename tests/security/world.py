"""What the security suite attacks: one hand-built session (the replay tests' reference
session: ann@example.test, "Ann", uid u-1, client IP 73.162.x.x) in a migrated chDB
database, local tokens of each role, and the gateway's shared secret."""

from __future__ import annotations

import sys
from pathlib import Path

from exos_common.store import Store

_REPLAY_TESTS = Path(__file__).resolve().parents[2] / "services" / "replay" / "tests"
sys.path.insert(0, str(_REPLAY_TESTS))

import replay_fixtures  # noqa: E402

SESSION = replay_fixtures.SESSION
EMAIL = "ann@example.test"
NAME = "Ann"
UID = "u-1"
IP = "73.162.x.x"

SERVICE_SECRET = "gateway-to-readers-7b1d9c"
TOKENS = {"viewer": "tok-viewer-91", "analyst": "tok-analyst-92", "admin": "tok-admin-93"}
TOKEN_ENTRIES = ",".join(f"{role}-user:{token}:{role}" for role, token in TOKENS.items())


def bearer(role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[role]}"}


def write_reference_session(store: Store) -> None:
    replay_fixtures.reference_session().write(store)
