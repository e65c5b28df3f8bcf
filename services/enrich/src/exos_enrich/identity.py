"""Session identity: who is signed in, carried forward in time within a session.

A portal sets `user.email`/`user.name`/`user.uid` with
`HyperDX.setGlobalAttributes` after sign-in; HyperDX's own session list reads
`userEmail`/`userName`/`teamId`/`teamName`. The SDK puts globals only on spans started
after the call, and never on logs: enrich copies each value, once seen on a span, to
every span and log of the session whose time is at or after the span that showed it.
Records that are earlier in time (a log arriving late, a span that started before
sign-in) are left as they are.
"""

from __future__ import annotations

IDENTITY_ATTRIBUTES = (
    "user.email",
    "user.name",
    "user.uid",
    "userEmail",
    "userName",
    "teamId",
    "teamName",
)


class SessionIdentity:
    """The latest value of each identity attribute and the time it was first seen."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, int]] = {}

    def observe(self, attributes: dict[str, str], timestamp_ns: int) -> None:
        for key in IDENTITY_ATTRIBUTES:
            value = attributes.get(key)
            if not value:
                continue
            known = self._values.get(key)
            if known is None or (known[0] != value and timestamp_ns >= known[1]):
                self._values[key] = (value, timestamp_ns)
            elif known[0] == value and timestamp_ns < known[1]:
                # The same value seen earlier than we thought (records out of order).
                self._values[key] = (value, timestamp_ns)

    def apply(self, attributes: dict[str, str], timestamp_ns: int) -> None:
        for key, (value, since_ns) in self._values.items():
            if timestamp_ns >= since_ns and not attributes.get(key):
                attributes[key] = value

    def current(self) -> dict[str, str]:
        return {key: value for key, (value, _) in self._values.items()}

    def __bool__(self) -> bool:
        return bool(self._values)

    def snapshot_state(self) -> dict[str, tuple[str, int]]:
        """(value, since ns) per attribute, for a session snapshot."""
        return self._values

    def load_state(self, values: dict[str, tuple[str, int]]) -> None:
        self._values = {k: v for k, v in values.items() if k in IDENTITY_ATTRIBUTES}
