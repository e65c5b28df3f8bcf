"""Per-event process views: the operator leaderboard and anomaly detection."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException

from exos_query_api.categories import ROUTINE_CATEGORIES, category_of
from exos_query_api.process import series_sql
from exos_query_api.process.eventlog import ProcessFilters, bound, event_filter
from exos_query_api.process.logic import finite, pct
from exos_query_api.process.models import (
    ActivityCount,
    AnomaliesResponse,
    Anomaly,
    AnomalyPoint,
    OperatorRow,
    OperatorsResponse,
)
from exos_query_api.runner import QueryRunner, SessionMoment
from exos_query_api.timerange import TimeRange

BUCKETS = {"hour": 3600, "day": 86400}
DEFAULT_WINDOW = {"hour": 24, "day": 7}
MAX_POINTS = 10_000


def operators(
    runner: QueryRunner, window: TimeRange, filters: ProcessFilters, limit: int
) -> OperatorsResponse:
    events = event_filter(filters)
    rows = runner.rows(
        series_sql.OPERATORS.replace("/*EVENTS*/", events), bound(window, filters, limit=limit)
    )
    tasks: dict[str, list[ActivityCount]] = defaultdict(list)
    if rows:
        for t in runner.rows(
            series_sql.OPERATOR_TASKS.replace("/*EVENTS*/", events),
            bound(window, filters, operators=[r["operator_id"] for r in rows]),
        ):
            tasks[t["operator_id"]].append(
                ActivityCount(activity=t["activity"], events=t["events"])
            )
    total = int(rows[0]["all_events"]) if rows else 0
    routine: Counter[str] = Counter()
    out = []
    for r in rows:
        categories: Counter[str] = Counter()
        for task in tasks[r["operator_id"]]:
            category = category_of(task.activity) or "Other"
            categories[category] += task.events
            if category in ROUTINE_CATEGORIES:
                routine[task.activity] += task.events
        out.append(
            OperatorRow(
                operator_id=r["operator_id"],
                name=r["name"],
                role=r["role"],
                team=r["team"],
                events=r["events"],
                events_share_pct=pct(r["events"], total),
                orders=r["orders"],
                sessions=r["sessions"],
                active_days=r["active_days"],
                events_per_order=round(r["events"] / r["orders"], 2) if r["orders"] else 0.0,
                routine_events=r["routine_events"],
                automation_opportunity_pct=pct(r["routine_events"], r["events"]),
                categories=dict(categories.most_common()),
                top_activities=tasks[r["operator_id"]][:5],
            )
        )
    return OperatorsResponse(
        total_events=total,
        total_operators=int(rows[0]["all_operators"]) if rows else 0,
        operators=out,
        automation_candidates=[
            ActivityCount(activity=a, events=n)
            for a, n in sorted(routine.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        ],
    )


@dataclass(frozen=True, slots=True)
class AnomalyQuery:
    series: str
    activity: str | None
    bucket: str
    window: int | None
    threshold: float
    samples: int


def anomalies(
    runner: QueryRunner, window: TimeRange, filters: ProcessFilters, ask: AnomalyQuery
) -> AnomaliesResponse:
    source = _series_source(ask, filters)
    bucket_s = BUCKETS[ask.bucket]
    span = window.parameters()["end"] - window.parameters()["start"]
    if span / timedelta(seconds=bucket_s) > MAX_POINTS:
        raise HTTPException(
            422, f"more than {MAX_POINTS} {ask.bucket} buckets in the range: use bucket=day"
        )
    baseline = ask.window or DEFAULT_WINDOW[ask.bucket]
    extra = {"activity": ask.activity} if ask.series == "activity" else {}
    parameters = bound(window, filters, bucket_s=bucket_s, baseline=baseline, **extra)
    table = "process_events" if ask.series in series_sql.PROCESS_SERIES else "span_facts"
    sql = series_sql.ANOMALY_POINTS.replace("/*SERIES*/", source).replace(
        "/*DATA_START*/", series_sql.DATA_START[table]
    )
    rows = runner.rows(sql, parameters)
    points = [
        AnomalyPoint(
            bucket=r["bucket"],
            value=r["value"],
            mean=finite(r["mean"]),
            sd=finite(r["sd"]),
            z=round(finite(r["z"]) or 0.0, 3),
        )
        for r in rows
    ]
    flagged = [p for p in points if abs(p.z) >= ask.threshold]
    sessions: dict[datetime, list[SessionMoment]] = {}
    if flagged and ask.samples:
        for r in runner.rows(
            series_sql.ANOMALY_SESSIONS.replace("/*SERIES*/", source),
            {**parameters, "samples": ask.samples, "buckets": [p.bucket for p in flagged]},
        ):
            sessions[_naive(r["bucket"])] = [
                SessionMoment(session_id=s[2], at=s[1]) for s in r["samples"]
            ]
    return AnomaliesResponse(
        series=ask.series,
        bucket_s=bucket_s,
        window=baseline,
        threshold=ask.threshold,
        points=points,
        anomalies=[
            Anomaly(
                **p.model_dump(),
                direction="spike" if p.z > 0 else "dip",
                samples=sessions.get(_naive(p.bucket), []),
            )
            for p in flagged
        ],
    )


def _series_source(ask: AnomalyQuery, filters: ProcessFilters) -> str:
    if ask.series == "activity" and not ask.activity:
        raise HTTPException(422, "series=activity needs the activity parameter")
    if ask.series in series_sql.PROCESS_SERIES:
        return series_sql.SERIES[ask.series].replace("/*EVENTS*/", event_filter(filters))
    extra = set(filters.chosen()) - {"service"}
    if extra:
        raise HTTPException(
            422, f"filter(s) {', '.join(sorted(extra))} do not apply to series={ask.series}"
        )
    service = " AND ServiceName = {service:String}" if filters.service is not None else ""
    return series_sql.SERIES[ask.series].replace("/*SERVICE*/", service)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
