"""The process views: run the SQL of `sql` over the chosen event log, shape the rows into
the response models. Each takes a `QueryRunner` (which keeps the SQL it ran)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from exos_query_api.process import sql
from exos_query_api.process.eventlog import (
    MS,
    Over,
    ProcessFilters,
    bound,
    conditions,
    pattern,
    with_log,
)
from exos_query_api.process.logic import (
    HAPPY_PATH,
    REWORK_LOOP,
    Event,
    check_known,
    deviation_point,
    pct,
    variants_narrative,
)
from exos_query_api.process.models import (
    ActivityCount,
    ActivityMoment,
    Bottleneck,
    BottlenecksResponse,
    CaseMoment,
    ConformanceResponse,
    Deviation,
    FunnelLevel,
    FunnelResponse,
    LoopCount,
    MapEdge,
    MapNode,
    ProcessMapResponse,
    ReworkCase,
    ReworkResponse,
    TransitionSample,
    Variant,
    VariantsResponse,
)
from exos_query_api.runner import QueryRunner
from exos_query_api.timerange import TimeRange

EPOCH = datetime(1970, 1, 1)


class Scope:
    """What every process view shares: the runner, the event log and its parameters."""

    def __init__(
        self, runner: QueryRunner, window: TimeRange, over: Over, filters: ProcessFilters
    ) -> None:
        self.runner = runner
        self.over = over
        self.filters = filters
        self.window = window

    def rows(self, body: str, *ctes: str, **parameters: Any) -> list[dict[str, Any]]:
        statement = with_log(self.over, self.filters, body, *ctes)
        return self.runner.rows(statement, bound(self.window, self.filters, **parameters))

    def known_activities(self) -> list[str]:
        if self.over == "orders":
            rows = self.runner.rows(sql.ORDER_ACTIVITIES)
        else:
            rows = self.rows(sql.LOG_ACTIVITIES)
        return [str(r["activity"]) for r in rows]

    def sessions_at(self, moments: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The session of each (case, ns) event: a page case is its session."""
        wanted = set(moments)
        if self.over == "pages":
            return {m: m[0] for m in wanted}
        return sessions_at(self.runner, wanted)

    def check(self, steps: Sequence[str], name: str) -> None:
        check_known(steps, self.known_activities(), name, self.over)

    def top_path(self, longest: int) -> list[str]:
        """The most frequent variant path of two steps or more (the reference when pages
        have no path), cut to `longest` steps."""
        rows = self.rows(sql.VARIANTS, sql.VARIANT_CASES_CTE, samples=1, limit=20)
        paths = [[str(a) for a in r["path"]] for r in rows if len(r["path"]) >= 2]
        return paths[0][:longest] if paths else []


def sessions_at(runner: QueryRunner, moments: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Sessions of order events by (order, ns), from process_events' sort key."""
    if not moments:
        return {}
    rows = runner.rows(
        sql.SESSIONS_AT,
        {"cases": sorted({c for c, _ in moments}), "nanos": sorted({n for _, n in moments})},
    )
    return {(r["case_id"], int(r["ns"])): r["session_id"] for r in rows}


def from_ns(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)


def transition_samples(
    samples: Sequence[Sequence[Any]], sessions: dict[tuple[str, int], str]
) -> list[TransitionSample]:
    """(-gap, ns, case, from ns) tuples as samples with their sessions."""
    return [
        TransitionSample(
            gap_s=round(-s[0], 3),
            at=from_ns(s[1]),
            session_id=sessions.get((s[2], s[1]), ""),
            case_id=s[2],
            from_at=from_ns(s[3]),
            from_session_id=sessions.get((s[2], s[3]), ""),
        )
        for s in samples
    ]


def sampled_moments(rows: Sequence[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(s[2], n) for r in rows for s in r["samples"] for n in (s[1], s[3])}


def fill(text: str, array_parameter: str, steps: int) -> str:
    """A sequence CTE for `steps` conditions on the bound array `array_parameter`."""
    return (
        text.replace("/*PATTERN*/", pattern(steps))
        .replace("/*MS*/", MS)
        .replace("/*CONDITIONS*/", conditions(array_parameter, steps))
    )


def _moment(sample: Sequence[Any]) -> CaseMoment:
    at, session_id, case_id = sample[0], sample[1], sample[2]
    return CaseMoment(session_id=session_id, at=at, case_id=case_id)


def variants(scope: Scope, limit: int, samples: int) -> VariantsResponse:
    rows = scope.rows(sql.VARIANTS, sql.VARIANT_CASES_CTE, samples=samples, limit=limit)
    total_cases = int(rows[0]["total_cases"]) if rows else 0
    total_variants = int(rows[0]["total_variants"]) if rows else 0
    out = [
        Variant(
            variant=r["variant"],
            path=list(r["path"]),
            cases=r["cases"],
            share_pct=pct(r["cases"], total_cases),
            avg_duration_s=round(r["avg_duration_s"], 3),
            p50_duration_s=round(r["p50_duration_s"], 3),
            top_segments=[s for s in r["top_segments"] if s],
            samples=[_moment(s) for s in r["samples"]],
        )
        for r in rows
    ]
    narrative = variants_narrative(
        scope.over,
        total_cases,
        total_variants,
        [(v.path, v.cases, v.p50_duration_s) for v in out],
    )
    return VariantsResponse(
        over=scope.over,
        total_cases=total_cases,
        total_variants=total_variants,
        variants=out,
        narrative=narrative,
    )


def bottlenecks(
    scope: Scope, limit: int, samples: int, min_transitions: int
) -> BottlenecksResponse:
    rows = scope.rows(
        sql.BOTTLENECKS,
        sql.TRANSITIONS_CTE,
        samples=samples,
        limit=limit,
        min_transitions=min_transitions,
    )
    sessions = scope.sessions_at(sampled_moments(rows))
    out = [
        Bottleneck(
            step_from=r["step_from"],
            step_to=r["step_to"],
            transitions=r["transitions"],
            cases=r["cases"],
            avg_s=round(r["avg_s"], 3),
            p50_s=round(r["p50_s"], 3),
            p95_s=round(r["p95_s"], 3),
            max_s=round(r["max_s"], 3),
            samples=transition_samples(r["samples"], sessions),
        )
        for r in rows
    ]
    return BottlenecksResponse(over=scope.over, bottlenecks=out)


def process_map(scope: Scope, limit: int, min_frequency: int) -> ProcessMapResponse:
    nodes = scope.rows(sql.MAP_NODES)
    edges = scope.rows(sql.MAP_EDGES, sql.TRANSITIONS_CTE, limit=limit, min_frequency=min_frequency)
    return ProcessMapResponse(
        over=scope.over,
        cases=sum(int(n["starts"]) for n in nodes),
        nodes=[
            MapNode(
                activity=n["activity"],
                events=n["events"],
                cases=n["cases"],
                starts=n["starts"],
                ends=n["ends"],
            )
            for n in nodes
        ],
        edges=[
            MapEdge(
                step_from=e["step_from"],
                step_to=e["step_to"],
                frequency=e["frequency"],
                cases=e["cases"],
                p50_s=round(e["p50_s"], 3),
                p95_s=round(e["p95_s"], 3),
            )
            for e in edges
        ],
    )


def funnel(scope: Scope, steps: list[str] | None, window_s: int, samples: int) -> FunnelResponse:
    if steps is None:
        steps = list(HAPPY_PATH) if scope.over == "orders" else scope.top_path(5)
    else:
        scope.check(steps, "steps")
    if len(steps) < 2:
        return FunnelResponse(
            over=scope.over, steps=steps, window_s=window_s, entered=0, completed=0, levels=[]
        )
    cte = fill(sql.FUNNEL_CASES_CTE, "steps", len(steps))
    rows = scope.rows(sql.FUNNEL, cte, steps=steps, window_ms=window_s * 1000, samples=samples)
    stopped = {int(r["level"]): r for r in rows}
    reached = [
        sum(r["cases"] for lvl, r in stopped.items() if lvl >= k) for k in range(1, len(steps) + 1)
    ]
    entered = reached[0]
    levels = []
    for k, step in enumerate(steps, start=1):
        at_k = stopped.get(k)
        previous = reached[k - 2] if k > 1 else entered
        levels.append(
            FunnelLevel(
                level=k,
                step=step,
                cases=reached[k - 1],
                conversion_pct=pct(reached[k - 1], entered),
                step_conversion_pct=pct(reached[k - 1], previous),
                dropped=int(at_k["cases"]) if at_k and k < len(steps) else 0,
                dropped_samples=[
                    ActivityMoment(at=s[0], session_id=s[1], case_id=s[2], activity=step)
                    for s in (at_k["samples"] if at_k and k < len(steps) else [])
                ],
            )
        )
    return FunnelResponse(
        over=scope.over,
        steps=steps,
        window_s=window_s,
        entered=entered,
        completed=reached[-1],
        levels=levels,
    )


def conformance(scope: Scope, path: list[str] | None, samples: int) -> ConformanceResponse:
    if path is None:
        path = list(HAPPY_PATH) if scope.over == "orders" else scope.top_path(32)
    else:
        scope.check(path, "path")
    if len(path) < 2:
        return ConformanceResponse(
            over=scope.over, path=[], conforming=0, total=0, conformance_pct=0, deviations=[]
        )
    cte = fill(sql.CONFORMANCE_CASES_CTE, "path", len(path))
    rows = scope.rows(sql.CONFORMANCE, cte, path=path, samples=samples)
    total = sum(int(r["cases"]) for r in rows)
    conforming = sum(int(r["cases"]) for r in rows if r["conforming"])
    groups = [r for r in rows if not r["conforming"]]
    sample_cases = sorted({c for r in groups for c in r["sample_cases"]})
    traces: dict[str, list[Event]] = defaultdict(list)
    if sample_cases:
        for t in scope.rows(sql.CASE_TRACES, path=path, cases=sample_cases):
            traces[t["case_id"]].append(Event(t["activity"], t["ts"], t["session_id"]))
    deviations = []
    for r in groups:
        reached = int(r["reached"])
        moments = []
        for case_id in r["sample_cases"]:
            point = deviation_point(traces[case_id], path, reached)
            moments.append(
                ActivityMoment(
                    session_id=point.event.session_id,
                    at=point.event.at,
                    case_id=case_id,
                    activity=point.event.activity,
                )
            )
        deviations.append(
            Deviation(
                kind="out_of_order" if reached >= len(path) else "missing_step",
                reached=reached,
                missing_step=path[reached] if reached < len(path) else None,
                cases=r["cases"],
                share_pct=pct(r["cases"], total),
                samples=moments,
            )
        )
    return ConformanceResponse(
        over=scope.over,
        path=path,
        conforming=conforming,
        total=total,
        conformance_pct=pct(conforming, total),
        deviations=deviations,
    )


def rework(scope: Scope, loop: list[str] | None, limit: int, samples: int) -> ReworkResponse:
    if loop is None and scope.over == "orders":
        loop = list(REWORK_LOOP)
    elif loop is not None:
        scope.check(loop, "loop")
    if loop is None:
        cte = sql.REWORK_REVISIT_CASES_CTE
        parameters: dict[str, Any] = {}
    else:
        cte = fill(sql.REWORK_LOOP_CASES_CTE, "loop", len(loop))
        parameters = {"loop": loop}
    row = scope.rows(sql.REWORK, cte, limit=limit, samples=samples, **parameters)[0]
    distribution = [
        LoopCount(loops=int(loops), cases=int(cases))
        for loops, cases in zip(*row["distribution"], strict=True)
        if loops
    ]
    cases_total = int(row["cases_total"])
    with_rework = sum(d.cases for d in distribution)
    returned_to = sorted(zip(*row["by_activity"], strict=True), key=lambda ac: (-ac[1], ac[0]))
    return ReworkResponse(
        over=scope.over,
        mode="revisits" if loop is None else "loop",
        loop=loop,
        cases_total=cases_total,
        cases_with_rework=with_rework,
        loops_total=sum(d.loops * d.cases for d in distribution),
        rework_rate_pct=pct(with_rework, cases_total),
        distribution=distribution,
        cases=[
            ReworkCase(
                case_id=case_id,
                loops=-negative_loops,
                samples=[
                    ActivityMoment(at=m[0], session_id=m[1], activity=m[2], case_id=case_id)
                    for m in moments
                ],
            )
            for negative_loops, case_id, moments in row["top"]
        ],
        by_activity=[
            ActivityCount(activity=activity, events=int(events))
            for activity, events in (returned_to[:limit] if loop is None else [])
        ],
    )
