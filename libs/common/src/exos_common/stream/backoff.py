"""Exponential backoff with jitter for retrying an outage (ClickHouse or Kafka down)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    initial_s: float = 0.5
    maximum_s: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        """Delay before the next attempt: doubles each time up to the maximum, with
        +-20 % jitter so replicas that failed together do not retry together."""
        base = min(self.maximum_s, self.initial_s * (2**self.attempt))
        self.attempt += 1
        return float(base * random.uniform(0.8, 1.2))

    def reset(self) -> None:
        self.attempt = 0
