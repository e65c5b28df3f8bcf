"""Response models of the replay API, and the summary row -> model mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from exos_replay.queries.integrity import Integrity, Status


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


class Visitor(BaseModel):
    city: str
    region: str
    country: str
    browser: str
    os: str
    device_type: str
    ip: str = Field(description="Masked as enrich stores it (73.162.x.x).")
    returning: bool
    visit_count: int


class Identity(BaseModel):
    email: str
    name: str
    uid: str


class ReplayShape(BaseModel):
    recorded: bool = Field(description="A recording with at least one full snapshot exists.")
    status: Status = Field(
        description="Integrity from the summary's counts (the detail checks every chunk)."
    )
    first_event_ns: int | None = Field(
        description="Time of the first rrweb event: offset 0 of the player."
    )
    last_event_ns: int | None
    duration_ms: float
    chunks: int
    bytes: int
    events: int
    full_snapshots: int
    page_loads: int
    recorder: str


class SessionSummary(BaseModel):
    session_id: str
    service_name: str
    started: str | None
    ended: str | None
    started_ns: int
    ended_ns: int
    duration_ms: float
    page_views: int
    pages: int = Field(description="Distinct page URLs loaded or routed to.")
    entry_page: str
    clicks: int = Field(description="Physical clicks (the SDK sends two spans per click).")
    errors: int = Field(description="Error-status spans (browser errors, failed requests).")
    rage_clicks: int
    dead_clicks: int
    excessive_scrolls: int
    quick_backs: int
    frustration: int = Field(description="All four frustration signals together.")
    visitor: Visitor
    identity: Identity
    replay: ReplayShape


class ShownQuery(BaseModel):
    """The shape of query-api's `RanQuery`, which the portal's "SQL" button shows."""

    sql: str = Field(description="The statement, with `{name:Type}` placeholders.")
    parameters: dict[str, Any] = Field(description="The values bound to the placeholders.")
    elapsed_ms: float
    rows: int


class SessionPage(BaseModel):
    sessions: list[SessionSummary]
    queries: list[ShownQuery] = Field(
        description="The SQL behind this page, to see and re-run: the page's session ids "
        "(filters, sort), then their figures."
    )
    total: int
    limit: int
    offset: int
    next_offset: int | None
    sort: Literal["recency", "frustration"]


class PageVisit(BaseModel):
    offset_ms: float
    at: str | None
    name: str
    href: str


class SessionDetail(SessionSummary):
    offset_base_ns: int = Field(
        description="Time every `offset_ms` counts from: the first rrweb event, or the "
        "session's first span when nothing was recorded."
    )
    page_visits: list[PageVisit]
    integrity: Integrity


class TabRows(BaseModel):
    session_id: str
    tab: str
    recorded: bool
    offset_base_ns: int
    rows: list[dict[str, Any]] = Field(
        description="Each row: `offset_ms`, `at`, `ts_ns` and the tab's own fields."
    )
    truncated: bool


def _shape_status(row: dict[str, Any]) -> Status:
    if not row["replay_chunks"]:
        return "none"
    if not row["full_snapshots"]:
        return "broken"
    complete = (
        row["replay_chunks_expected"] == row["replay_chunks"]
        and row["replay_events_started"] == row["replay_events"]
    )
    return "ok" if complete else "degraded"


def summary_model(row: dict[str, Any]) -> SessionSummary:
    first, last = row["replay_first_ns"], row["replay_last_ns"]
    return SessionSummary(
        session_id=row["session_id"],
        service_name=row["service_name"],
        started=iso(row["started_ns"]),
        ended=iso(row["ended_ns"]),
        started_ns=row["started_ns"],
        ended_ns=row["ended_ns"],
        duration_ms=round(float(row["duration_ms"]), 3),
        page_views=row["page_views"],
        pages=row["pages"],
        entry_page=row["entry_page"],
        clicks=row["clicks"],
        errors=row["errors"],
        rage_clicks=row["rage_clicks"],
        dead_clicks=row["dead_clicks"],
        excessive_scrolls=row["excessive_scrolls"],
        quick_backs=row["quick_backs"],
        frustration=row["frustration"],
        visitor=Visitor(
            city=row["city"],
            region=row["region"],
            country=row["country"],
            browser=row["browser"],
            os=row["os"],
            device_type=row["device_type"],
            ip=row["visitor_ip"],
            returning=bool(row["returning"]),
            visit_count=row["visit_count"],
        ),
        identity=Identity(email=row["user_email"], name=row["user_name"], uid=row["user_id"]),
        replay=ReplayShape(
            recorded=row["full_snapshots"] > 0,
            status=_shape_status(row),
            first_event_ns=first,
            last_event_ns=last,
            duration_ms=round((last - first) / 1e6, 3) if first is not None else 0.0,
            chunks=row["replay_chunks"],
            bytes=row["replay_bytes"],
            events=row["replay_events"],
            full_snapshots=row["full_snapshots"],
            page_loads=row["meta_events"],
            recorder=row["recorder"],
        ),
    )
