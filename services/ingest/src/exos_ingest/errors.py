"""The one error ingest raises for a request it refuses as a whole."""

from __future__ import annotations


class IngestError(Exception):
    """`status` is the HTTP answer, `reason` a stable machine name (metrics label, log
    field), `message` is for people; `retry_after_s` is sent as `Retry-After`."""

    def __init__(
        self, status: int, reason: str, message: str, *, retry_after_s: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after_s = retry_after_s
