"""Records per second per API key: a token bucket per key, in this process only (each
ingest replica holds its own buckets, so a deployment's limit is the rate x replicas).

How many records a request carries is known only once its body is decoded, so a request
is let in while its key's bucket is not in debt and charged afterwards: a request may
take the bucket below zero, and the key's next requests are then turned away before
their bodies are read until the debt is refilled. One request can overshoot by at most
the per-request record limit; a flood costs a header check per request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float


class RecordRateLimiter:
    """`rate_per_s` <= 0 turns limiting off. Buckets are created per key seen; callers pass
    only authenticated keys (or one shared name when ingest is open), so their number is
    bounded by the configured keys."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def wait_s(self, key: str) -> int:
        """0 when `key` may send now; otherwise whole seconds until its bucket is out of
        debt (what `Retry-After` says)."""
        if not self.enabled:
            return 0
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens >= 0:
                return 0
            return max(1, math.ceil(-bucket.tokens / self.rate_per_s))

    def charge(self, key: str, records: int) -> None:
        """Takes `records` tokens from `key`'s bucket, going into debt if need be."""
        if not self.enabled or records <= 0:
            return
        with self._lock:
            self._refilled(key).tokens -= records

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        elapsed = max(0.0, now - bucket.updated_s)
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate_per_s)
        bucket.updated_s = now
        return bucket
