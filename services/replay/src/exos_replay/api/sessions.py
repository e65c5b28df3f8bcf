"""`/api/sessions`: the session list (from the summary only) and one session's detail
(summary, pages visited, replay integrity checked chunk by chunk)."""

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from exos_common.service.pii import PiiPolicy, mask
from exos_common.service.readstore import StoreProvider
from exos_common.settings import ROLE_NAMES
from exos_common.store import Store
from exos_replay.models import (
    PageVisit,
    SessionDetail,
    SessionPage,
    SessionSummary,
    ShownQuery,
    iso,
    summary_model,
)
from exos_replay.queries import events, summary, timeline
from exos_replay.queries.integrity import check_integrity

SessionIdPath = Annotated[
    str, Path(min_length=1, max_length=200, description="The session id (`rum.sessionId`).")
]


def _ns(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000) * 1000


class SessionContext:
    """A session known to the summary: its window and the time offsets count from."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.session_id: str = row["session_id"]
        self.recorded = bool(row["replay_chunks"])
        base = row["replay_first_ns"] if self.recorded else row["started_ns"]
        self.offset_base_ns: int = int(base)
        self.window = timeline.Window(self.session_id, row["started_ns"], row["ended_ns"])

    def offset_ms(self, ts_ns: int) -> float:
        return round((ts_ns - self.offset_base_ns) / 1e6, 3)


def load_session(store: Store, session_id: str, *, full: bool = False) -> SessionContext:
    """The session's context; `full` also merges every figure of its summary."""
    find = summary.session_summary if full else summary.session_window
    row = find(store, session_id)
    if row is None:
        raise HTTPException(404, f"no session {session_id!r}: nothing was recorded under this id")
    return SessionContext(row)


def personal_data_shown(summary: SessionSummary, visible: bool) -> SessionSummary:
    """The summary, its e-mail, user name and client IP masked unless `visible`."""
    if visible:
        return summary
    identity = summary.identity.model_copy(
        update={
            "email": mask(summary.identity.email, False),
            "name": mask(summary.identity.name, False),
        }
    )
    visitor = summary.visitor.model_copy(update={"ip": mask(summary.visitor.ip, False)})
    return summary.model_copy(update={"identity": identity, "visitor": visitor})


def build_router(provider: StoreProvider, pii: PiiPolicy | None = None) -> APIRouter:
    """`pii`: which roles see personal data (default: every caller)."""
    router = APIRouter(prefix="/api/sessions", tags=["sessions"])
    StoreDep = Annotated[Store, Depends(provider.get)]
    policy = pii or PiiPolicy(frozenset(ROLE_NAMES))
    SeesPii = Annotated[bool, Depends(policy.access())]

    @router.get("", response_model=SessionPage)
    def list_sessions(
        store: StoreDep,
        sees_pii: SeesPii,
        user: Annotated[
            str | None, Query(max_length=200, description="Part of e-mail or name, or uid.")
        ] = None,
        city: Annotated[str | None, Query(max_length=200)] = None,
        country: Annotated[str | None, Query(max_length=100)] = None,
        returning: Annotated[bool | None, Query(description="Returning visitors only.")] = None,
        has_rage_click: bool | None = None,
        has_dead_click: bool | None = None,
        has_errors: bool | None = None,
        has_recording: bool | None = None,
        min_duration_s: Annotated[float | None, Query(ge=0)] = None,
        max_duration_s: Annotated[float | None, Query(ge=0)] = None,
        since: Annotated[
            datetime | None, Query(description="Sessions still going at or after (ISO 8601).")
        ] = None,
        until: Annotated[datetime | None, Query(description="Sessions started by.")] = None,
        sort: Annotated[
            summary.Sort, Query(description="`recency` or `frustration` (signals, errors).")
        ] = "recency",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> SessionPage:
        if since and until and _ns(since) > _ns(until):  # type: ignore[operator]
            raise HTTPException(422, "since must not be after until")
        if user and not sees_pii:
            # Matching hidden e-mails would tell a caller whose they are.
            raise HTTPException(403, "searching by user needs a role that sees personal data")
        filters = {
            "user": user,
            "city": city,
            "country": country,
            "returning": None if returning is None else int(returning),
            "has_rage_click": has_rage_click,
            "has_dead_click": has_dead_click,
            "has_errors": has_errors,
            "has_recording": has_recording,
            "min_duration_ms": None if min_duration_s is None else min_duration_s * 1000,
            "max_duration_ms": None if max_duration_s is None else max_duration_s * 1000,
            "since_ns": _ns(since),
            "until_ns": _ns(until),
        }
        query = summary.list_query(filters, sort, limit, offset)
        began = time.perf_counter()
        found = store.query(query.sql, query.parameters)
        ids_ms = (time.perf_counter() - began) * 1000
        total = int(found[0]["total"]) if found else 0
        if not found and offset:
            # Past the end: the total still tells the client where the end is.
            probe = summary.list_query(filters, sort, 1, 0)
            first = store.query(probe.sql, probe.parameters)
            total = int(first[0]["total"]) if first else 0
        ids = [r["session_id"] for r in found]
        began = time.perf_counter()
        rows = summary.page_sessions(store, ids) if ids else []
        figures_ms = (time.perf_counter() - began) * 1000
        return SessionPage(
            sessions=[personal_data_shown(summary_model(r), sees_pii) for r in rows],
            queries=[
                ShownQuery(
                    sql=query.sql.strip(),
                    parameters=query.parameters,
                    elapsed_ms=round(ids_ms, 3),
                    rows=len(found),
                ),
                ShownQuery(
                    sql=summary.PAGE_SESSIONS.strip(),
                    parameters={"ids": ids},
                    elapsed_ms=round(figures_ms, 3),
                    rows=len(rows),
                ),
            ],
            total=total,
            limit=limit,
            offset=offset,
            next_offset=offset + limit if offset + limit < total else None,
            sort=sort,
        )

    @router.get(
        "/{session_id}",
        response_model=SessionDetail,
        responses={404: {"description": "No such session"}},
    )
    def session_detail(
        store: StoreDep, sees_pii: SeesPii, session_id: SessionIdPath
    ) -> SessionDetail:
        session = load_session(store, session_id, full=True)
        base = personal_data_shown(summary_model(session.row), sees_pii)
        visits = [
            PageVisit(
                offset_ms=session.offset_ms(r["ts_ns"]),
                at=iso(r["ts_ns"]),
                name=r["name"],
                href=r["href"],
            )
            for r in timeline.pages(store, session.window)
        ]
        metas = events.chunk_metas(store, session.window) if session.recorded else []
        integrity = check_integrity(metas, session.row["replay_first_ns"], session.row["recorder"])
        return SessionDetail(
            **base.model_dump(),
            offset_base_ns=session.offset_base_ns,
            page_visits=visits,
            integrity=integrity,
        )

    return router
