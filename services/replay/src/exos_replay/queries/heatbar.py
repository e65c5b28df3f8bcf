"""The activity heatbar (docs/replay.md): weighted activity per time bucket of
the replay, and markers for errors, rage clicks and navigations. Pure functions; the
SQL that feeds them is in `exos_replay.queries.session`.

Bucketing: one bucket per 2 px of the bar's width, at least 50, at most 400. Bucket i
covers [start + i * d / n, start + (i + 1) * d / n) of the replay's time range
(the last bucket includes the end); activity outside the range is not drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

MIN_BUCKETS = 50
MAX_BUCKETS = 400
PX_PER_BUCKET = 2

# Weights per kind of activity (docs/replay.md). Scroll is an rrweb event (incremental,
# source 3), not a span.
WEIGHTS: dict[str, float] = {
    "click": 1.0,
    "mousedown": 0.8,
    "HTTP POST": 0.6,
    "HTTP GET": 0.5,
    "resourceFetch": 0.4,
    "longtask": 1.5,
    "documentLoad": 2.0,
    "scroll": 0.2,
}
NAVIGATIONS = frozenset({"documentLoad", "routeChange"})

MarkerKind = Literal["error", "rage_click", "navigation"]


def bucket_count(width_px: int) -> int:
    return max(MIN_BUCKETS, min(MAX_BUCKETS, width_px // PX_PER_BUCKET))


@dataclass(frozen=True, slots=True)
class Activity:
    name: str  # SpanName, `scroll`, or `error` (an error log / error-status span)
    timestamp_ns: int
    label: str = ""


def marker_kind(activity: Activity) -> MarkerKind | None:
    if activity.name == "error":
        return "error"
    if activity.name == "rage_click":
        return "rage_click"
    if activity.name in NAVIGATIONS or activity.name.startswith("page."):
        return "navigation"
    return None


class Marker(BaseModel):
    kind: MarkerKind
    bucket: int
    offset_ms: float = Field(description="Offset of the first such moment in the bucket.")
    count: int = Field(description="How many of this kind fall in the bucket.")
    label: str


class Heatbar(BaseModel):
    buckets: int
    start_offset_ms: float = 0.0
    duration_ms: float
    bucket_ms: float
    values: list[float] = Field(description="Weighted activity per bucket (see `weights`).")
    max_value: float
    markers: list[Marker]
    weights: dict[str, float] = Field(default_factory=lambda: dict(WEIGHTS))


def build_heatbar(
    activities: Iterable[Activity], start_ns: int, end_ns: int, width_px: int
) -> Heatbar:
    n = bucket_count(width_px)
    span_ns = max(end_ns - start_ns, 1_000_000)  # a 1 ms replay still has a bar
    values = [0.0] * n
    markers: dict[tuple[MarkerKind, int], Marker] = {}
    for activity in sorted(activities, key=lambda a: a.timestamp_ns):
        at = activity.timestamp_ns - start_ns
        if at < 0 or at > span_ns:
            continue
        bucket = min(n - 1, at * n // span_ns)
        values[bucket] += WEIGHTS.get(activity.name, 0.0)
        kind = marker_kind(activity)
        if kind is None:
            continue
        found = markers.get((kind, bucket))
        if found is None:
            markers[(kind, bucket)] = Marker(
                kind=kind,
                bucket=bucket,
                offset_ms=round(at / 1e6, 3),
                count=1,
                label=activity.label or activity.name,
            )
        else:
            found.count += 1
    values = [round(v, 6) for v in values]
    return Heatbar(
        buckets=n,
        duration_ms=round(span_ns / 1e6, 3),
        bucket_ms=round(span_ns / n / 1e6, 3),
        values=values,
        max_value=max(values),
        markers=sorted(markers.values(), key=lambda m: (m.bucket, m.kind)),
    )
