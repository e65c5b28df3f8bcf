"""The time range every endpoint takes: `from` and `to` (ISO 8601), defaulting to the
last 30 days (the tables' default retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel

DEFAULT_WINDOW = timedelta(days=30)
LONGEST_WINDOW = timedelta(days=400)


class TimeRange(BaseModel):
    start: datetime
    end: datetime

    def parameters(self) -> dict[str, datetime]:
        """Bound as `{start:DateTime64(9)}` / `{end:DateTime64(9)}` (UTC, naive)."""
        return {"start": _naive_utc(self.start), "end": _naive_utc(self.end)}


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def time_range(
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Start (inclusive), ISO 8601; default: `to` - 30 days."),
    ] = None,
    to: Annotated[
        datetime | None, Query(description="End (exclusive), ISO 8601; default: now.")
    ] = None,
) -> TimeRange:
    end = to or datetime.now(UTC)
    start = from_ or end - DEFAULT_WINDOW
    if _naive_utc(start) >= _naive_utc(end):
        raise HTTPException(
            422, f"from ({start.isoformat()}) must be before to ({end.isoformat()})"
        )
    if _naive_utc(end) - _naive_utc(start) > LONGEST_WINDOW:
        raise HTTPException(422, f"the time range is longer than {LONGEST_WINDOW.days} days")
    return TimeRange(start=start, end=end)


TimeRangeParam = Annotated[TimeRange, Depends(time_range)]
