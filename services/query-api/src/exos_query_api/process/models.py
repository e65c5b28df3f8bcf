"""Responses of the process-mining endpoints. Durations are seconds; every sample is a
session and the moment in it that matters (opens the replay there)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from exos_query_api.runner import SessionMoment, Traced


class CaseMoment(SessionMoment):
    case_id: str = Field(description="The order id (over=orders) or session id (over=pages).")


class ActivityMoment(CaseMoment):
    activity: str = Field(description="The activity at that moment.")


class ActivityCount(BaseModel):
    activity: str
    events: int


class OperatorRow(BaseModel):
    operator_id: str
    name: str
    role: str
    team: str
    events: int
    events_share_pct: float = Field(description="Of all operators' events in the range.")
    orders: int
    sessions: int
    active_days: int
    events_per_order: float
    routine_events: int = Field(description="System actions and e-mails.")
    automation_opportunity_pct: float = Field(
        description="Share of the operator's events that are routine (system actions, "
        "e-mails): work a workflow rule or bot could take over."
    )
    categories: dict[str, int] = Field(description="Task distribution: events by category.")
    top_activities: list[ActivityCount]


class OperatorsResponse(Traced):
    total_events: int
    total_operators: int
    operators: list[OperatorRow]
    automation_candidates: list[ActivityCount] = Field(
        description="The routine activities with the most events among these operators."
    )


class Variant(BaseModel):
    variant: str = Field(description="cityHash64 of the path.")
    path: list[str]
    cases: int
    share_pct: float
    avg_duration_s: float
    p50_duration_s: float
    top_segments: list[str] = Field(
        description="topK(3): the LOBs (orders) or services (pages) most common among "
        "the variant's cases."
    )
    samples: list[CaseMoment] = Field(description="Earliest cases, at their first event.")


class VariantsResponse(Traced):
    over: str
    total_cases: int
    total_variants: int
    variants: list[Variant]
    narrative: str


class TransitionSample(CaseMoment):
    gap_s: float
    from_at: datetime
    from_session_id: str


class Bottleneck(BaseModel):
    step_from: str
    step_to: str
    transitions: int
    cases: int
    avg_s: float
    p50_s: float
    p95_s: float
    max_s: float
    samples: list[TransitionSample] = Field(
        description="The slowest instances, at the event that ended the wait."
    )


class BottlenecksResponse(Traced):
    over: str
    bottlenecks: list[Bottleneck]


class FunnelLevel(BaseModel):
    level: int
    step: str
    cases: int = Field(description="Cases that reached this step in order, in the window.")
    conversion_pct: float = Field(description="Of the cases that entered the funnel.")
    step_conversion_pct: float = Field(description="Of the cases at the step before.")
    dropped: int = Field(description="Cases that stopped at this step.")
    dropped_samples: list[ActivityMoment] = Field(
        description="Cases that stopped here, at their (last) event of this step."
    )


class FunnelResponse(Traced):
    over: str
    steps: list[str]
    window_s: int
    entered: int
    completed: int
    levels: list[FunnelLevel]


class Deviation(BaseModel):
    kind: Literal["missing_step", "out_of_order"]
    reached: int = Field(description="Path steps the cases ran in order (windowFunnel).")
    missing_step: str | None = Field(description="The first path step they did not reach.")
    cases: int
    share_pct: float = Field(description="Of all cases.")
    samples: list[ActivityMoment] = Field(
        description="At the deviating event: a later path step done without this one, "
        "an out-of-order step, or the case's last event when it stopped."
    )


class ConformanceResponse(Traced):
    over: str
    path: list[str]
    conforming: int
    total: int
    conformance_pct: float
    deviations: list[Deviation]


class LoopCount(BaseModel):
    loops: int
    cases: int


class ReworkCase(BaseModel):
    case_id: str
    loops: int
    samples: list[ActivityMoment]


class ReworkResponse(Traced):
    over: str
    mode: Literal["loop", "revisits"]
    loop: list[str] | None
    cases_total: int
    cases_with_rework: int
    loops_total: int
    rework_rate_pct: float
    distribution: list[LoopCount]
    cases: list[ReworkCase]
    by_activity: list[ActivityCount] = Field(
        description="revisits mode: the activities returned to most."
    )


class AnomalyPoint(BaseModel):
    bucket: datetime
    value: int
    mean: float | None
    sd: float | None
    z: float


class Anomaly(AnomalyPoint):
    direction: Literal["spike", "dip"]
    samples: list[SessionMoment]


class AnomaliesResponse(Traced):
    series: str
    bucket_s: int
    window: int
    threshold: float
    points: list[AnomalyPoint]
    anomalies: list[Anomaly]


class MapNode(BaseModel):
    activity: str
    events: int
    cases: int
    starts: int = Field(description="Cases that begin with this activity.")
    ends: int = Field(description="Cases that end with this activity.")


class MapEdge(BaseModel):
    step_from: str
    step_to: str
    frequency: int
    cases: int
    p50_s: float
    p95_s: float


class ProcessMapResponse(Traced):
    over: str
    cases: int
    nodes: list[MapNode]
    edges: list[MapEdge]
