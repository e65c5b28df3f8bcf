"""When a batch is full: rows OR bytes OR age, whichever comes first (a poll timeout is
not a batch window, so age is measured from the batch's first record across polls)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchBounds:
    max_rows: int
    max_bytes: int
    max_age_s: float


@dataclass(slots=True)
class BatchSize:
    """Running size of one batch; `opened_at` is when its first record arrived."""

    rows: int = 0
    bytes: int = 0
    opened_at: float | None = None

    def add(self, size_bytes: int, now: float, rows: int = 1) -> None:
        """A record of `rows` rows (a record that carries a batch counts all of them)."""
        if self.opened_at is None:
            self.opened_at = now
        self.rows += rows
        self.bytes += size_bytes

    def age(self, now: float) -> float:
        return 0.0 if self.opened_at is None else now - self.opened_at

    def full(self, bounds: BatchBounds, now: float) -> bool:
        return (
            self.rows >= bounds.max_rows
            or self.bytes >= bounds.max_bytes
            or (self.rows > 0 and self.age(now) >= bounds.max_age_s)
        )
