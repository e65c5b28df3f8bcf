"""One session's recording: rrweb events page by page, the five drill-down tabs, the
heatbar. Every time is also given as `offset_ms` from the first rrweb event, the
player's time, so a click on any row seeks the replay there."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_replay.api.sessions import SessionIdPath, load_session
from exos_replay.models import TabRows, iso
from exos_replay.queries import timeline
from exos_replay.queries.events import Cursor, fetch_page, scroll_times
from exos_replay.queries.heatbar import Activity, Heatbar, build_heatbar
from exos_replay.settings import ReplaySettings
from exos_replay.wire import json_response

# The first page only needs the first page load's Meta and full snapshot and what
# follows them: reading fewer rows gets the player going sooner.
FIRST_CHUNKS_ROWS = 200

EVENTS_DOC = """rrweb events of the session in recording order (chunks reassembled), one page
at a time: `{"session_id", "first_event_ns", "events": [...], "next": cursor|null,
"skipped": [...]}`. Pass `after=<next>` until `next` is null. gzip on the wire when
accepted."""


def build_router(provider: StoreProvider, settings: ReplaySettings) -> APIRouter:
    router = APIRouter(prefix="/api/sessions", tags=["recording"])
    StoreDep = Annotated[Store, Depends(provider.get)]

    @router.get(
        "/{session_id}/events",
        description=EVENTS_DOC,
        responses={200: {"content": {"application/json": {}}}, 404: {}},
    )
    def session_events(
        request: Request,
        store: StoreDep,
        session_id: SessionIdPath,
        after: Annotated[
            str | None,
            Query(max_length=80, description="`next` of the previous page (none: from start)"),
        ] = None,
        limit: Annotated[
            int | None, Query(ge=1, le=100_000, description="Most chunks to read")
        ] = None,
        max_bytes: Annotated[
            int | None, Query(ge=1024, le=256 * 1024 * 1024, description="Page size target")
        ] = None,
    ) -> Response:
        try:
            cursor = Cursor.decode(after)
        except ValueError as exc:
            raise HTTPException(422, f"after: {exc}") from exc
        first = after is None
        page = fetch_page(
            store,
            session_id,
            cursor,
            limit or (FIRST_CHUNKS_ROWS if first else settings.replay_page_rows),
            max_bytes
            or (settings.replay_first_page_bytes if first else settings.replay_page_bytes),
        )
        if first and page.first_ns is None:
            load_session(store, session_id)  # 404 unless it is a session without replay
        head = orjson.dumps(
            {
                "session_id": session_id,
                "next": page.next.encode() if page.next else None,
                "skipped": page.skipped,
                # offset 0 of the player: the first event's time (on the first page)
                "first_event_ns": page.first_ns if first else None,
            }
        )
        # The events go through as stored: no parse-and-serialise of megabytes.
        body = head[:-1] + b',"events":[' + b",".join(page.events) + b"]}"
        return json_response(request, body, settings.replay_gzip_level)

    @router.get(
        "/{session_id}/tabs/{tab}",
        response_model=TabRows,
        responses={404: {"description": "No such session or tab"}},
    )
    def session_tab(
        request: Request, store: StoreDep, session_id: SessionIdPath, tab: str
    ) -> Response:
        if tab not in timeline.TABS:
            raise HTTPException(404, f"no tab {tab!r}; tabs are {', '.join(timeline.TABS)}")
        session = load_session(store, session_id)
        limit = settings.replay_tab_rows
        rows = timeline.tab_rows(store, session.window, tab, limit + 1)
        for row in rows:
            row["offset_ms"] = session.offset_ms(row["ts_ns"])
            row["at"] = iso(row["ts_ns"])
        result = TabRows(
            session_id=session.session_id,
            tab=tab,
            recorded=session.recorded,
            offset_base_ns=session.offset_base_ns,
            rows=rows[:limit],
            truncated=len(rows) > limit,
        )
        return json_response(request, result.model_dump_json().encode(), 6)

    @router.get(
        "/{session_id}/heatbar",
        response_model=Heatbar,
        responses={404: {"description": "No such session"}},
    )
    def session_heatbar(
        store: StoreDep,
        session_id: SessionIdPath,
        width: Annotated[
            int, Query(ge=1, le=20_000, description="Bar width in px: 2 px per bucket, 50-400")
        ] = 800,
    ) -> Heatbar:
        session = load_session(store, session_id)
        row = session.row
        if session.recorded:
            start, end = row["replay_first_ns"], row["replay_last_ns"]
        else:
            start, end = row["started_ns"], row["ended_ns"]
        activities: list[Activity] = []
        for r in timeline.heatbar_spans(store, session.window):
            activities.append(Activity(r["name"], r["ts_ns"], r["label"]))
            if r["is_error"]:
                activities.append(Activity("error", r["ts_ns"], r["label"] or r["name"]))
        if session.recorded:
            activities += [Activity("scroll", ts) for ts in scroll_times(store, session.window)]
        return build_heatbar(activities, start, end, width)

    return router
