"""Shared-secret keys (ingest API keys, the gateway's local tokens).

The HyperDX SDK sends its `apiKey` raw (`authorization: <key>`, the collector's
bearertokenauth with an empty scheme); OpenTelemetry SDKs are usually configured with
`Authorization: Bearer <key>`. Both are accepted. Keys are compared as SHA-256 digests
with `hmac.compare_digest`, against every configured key, so neither the time taken nor
its length tells a caller how close a guess was.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def presented_key(authorization: str | None) -> str:
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    return value


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    def __init__(self, keys: Sequence[str]) -> None:
        self._digests = [_digest(key) for key in keys if key]

    @property
    def enforced(self) -> bool:
        """False when no key is configured: ingest is open."""
        return bool(self._digests)

    def allows(self, authorization: str | None) -> bool:
        if not self.enforced:
            return True
        key = presented_key(authorization)
        if not key:
            return False
        candidate = _digest(key)
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(candidate, digest)
        return matched
