"""Pure functions of the process views: the variants narrative, where a non-conforming
case deviates, funnel levels from windowFunnel counts, step lists from the caller."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException

# The demo's happy path (what most orders run), the conformance and funnel default.
HAPPY_PATH = (
    "order.created",
    "appraisal.assigned",
    "inspection.scheduled",
    "inspection.completed",
    "review.started",
    "report.submitted",
    "order.closed",
)
REWORK_LOOP = ("review.started", "revision.requested")
MAX_STEPS = 32  # sequenceMatch / windowFunnel take at most 32 conditions


def pct(part: float, whole: float) -> float:
    return round(part / whole * 100, 1) if whole else 0.0


def finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def parse_steps(raw: Sequence[str] | None, name: str, minimum: int = 2) -> list[str] | None:
    """Steps given as repeated parameters and/or comma-separated: `a,b,c`."""
    if not raw:
        return None
    steps = [part.strip() for item in raw for part in item.split(",") if part.strip()]
    if not minimum <= len(steps) <= MAX_STEPS:
        raise HTTPException(422, f"{name} needs {minimum} to {MAX_STEPS} steps, got {len(steps)}")
    return steps


def check_known(steps: Sequence[str], known: Sequence[str], name: str, over: str) -> None:
    unknown = [step for step in steps if step not in set(known)]
    if unknown:
        what = "activity of any order" if over == "orders" else "page viewed in the time range"
        shown = ", ".join(known[:40]) + (" ..." if len(known) > 40 else "")
        raise HTTPException(
            422,
            f"unknown step(s) in {name}: {', '.join(unknown)} (not an {what}); known: {shown}",
        )


@dataclass(frozen=True, slots=True)
class Event:
    activity: str
    at: datetime
    session_id: str


@dataclass(frozen=True, slots=True)
class DeviationPoint:
    kind: str  # skipped | stopped | out_of_order
    event: Event


def deviation_point(trace: Sequence[Event], path: Sequence[str], reached: int) -> DeviationPoint:
    """Where a case leaves the path. `reached`: the path steps it ran in order. If it
    reached them all, the first path event, once the path began, that is not the next
    step (what broke sequenceMatch's strict order); otherwise, after the `reached`
    steps, the first event of a later path step (the missing one was skipped), or else
    its last event (it stopped)."""
    on_path = [e for e in trace if e.activity in path]
    if reached >= len(path):
        expected = 0
        for event in on_path:
            if event.activity == path[expected]:
                expected += 1
                if expected == len(path):
                    break
            elif expected:
                return DeviationPoint("out_of_order", event)
        return DeviationPoint("out_of_order", trace[-1])
    step = 0
    later = set(path[reached + 1 :])
    for event in on_path:
        if step < reached:
            if event.activity == path[step]:
                step += 1
            continue
        if event.activity in later:
            return DeviationPoint("skipped", event)
    return DeviationPoint("stopped", trace[-1])


def variants_narrative(
    over: str,
    total_cases: int,
    total_variants: int,
    top: Sequence[tuple[Sequence[str], int, float]],
) -> str:
    """A few sentences on the variants: `top` is (path, cases, p50 duration s), most
    frequent first."""
    unit = "orders" if over == "orders" else "sessions"
    if not total_cases or not top:
        return f"No {unit} in the selected range."
    path, cases, p50 = top[0]
    lines = [
        f"{total_cases} {unit} ran {total_variants} distinct variant"
        f"{'s' if total_variants != 1 else ''}.",
        f"The most common ({pct(cases, total_cases)}% of {unit}, {cases}) is "
        f"{_path_text(path)}, median {_duration(p50)}.",
    ]
    if len(top) >= 3:
        covered = sum(c for _, c, _ in top[:3])
        lines.append(f"The top 3 variants cover {pct(covered, total_cases)}% of {unit}.")
    looping = [(p, c) for p, c, _ in top if len(set(p)) < len(p)]
    if looping:
        repeated = sum(c for _, c in looping)
        lines.append(
            f"{repeated} {unit} among the top {len(top)} variants repeat an activity (rework)."
        )
    if len(top) >= 2:
        slowest = max(top, key=lambda v: v[2])
        if slowest[0] != path:
            lines.append(
                f"The slowest of them ({slowest[1]} {unit}) takes a median "
                f"{_duration(slowest[2])}: {_path_text(slowest[0])}."
            )
    if total_variants > len(top):
        rest = total_cases - sum(c for _, c, _ in top)
        lines.append(f"{total_variants - len(top)} rarer variants hold the other {rest} {unit}.")
    return " ".join(lines)


def _path_text(path: Sequence[str], longest: int = 8) -> str:
    if len(path) <= longest:
        return " -> ".join(path)
    return " -> ".join([*path[:4], f"... ({len(path) - 6} more)", *path[-2:]])


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
