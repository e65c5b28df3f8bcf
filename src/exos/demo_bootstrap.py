"""`exos up --demo`: load the demo data set through the platform's own OTLP port, once,
and finish an interrupted load on the next start without doubling anything.

Which sessions were fully sent is kept in `exos_demo_sessions`, with the seed, scale and
anchor hour of the load, so a restart regenerates the same world (the generator is
deterministic) and sends only what is missing. A session that was cut off half-way is
deleted from the three tables first, then sent again whole. This relies on the stop
being graceful (Ctrl-C drains everything ingest acknowledged into ClickHouse); a
SIGKILL of the all-in-one process loses what was still on its in-memory bus.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import typer

from exos.allinone import Endpoints, Platform
from exos.demo_recorder import SessionRecorder
from exos_common.settings import ServeSettings
from exos_common.store import Store

TABLES_BY_SESSION = {
    "otel_traces": "ResourceAttributes['rum.sessionId']",
    "otel_logs": "ResourceAttributes['rum.sessionId']",
    "hyperdx_sessions": "ResourceAttributes['rum.sessionId']",
}


def previous_load(store: Store) -> tuple[dict[str, Any] | None, set[str]]:
    rows = store.query("SELECT session_id, seed, scale, anchor FROM exos_demo_sessions FINAL")
    if not rows:
        return None, set()
    first = rows[0]
    return (
        {"seed": int(first["seed"]), "scale": float(first["scale"]), "anchor": first["anchor"]},
        {str(r["session_id"]) for r in rows},
    )


def delete_partial(store: Store, session_ids: list[str]) -> int:
    """Remove what a cut-off load left of these sessions; returns the rows found."""
    found = 0
    for table, column in TABLES_BY_SESSION.items():
        params = {"ids": session_ids}
        count = store.query_rows(
            f"SELECT count() FROM {table} WHERE {column} IN {{ids:Array(String)}}", params
        )[0][0]
        if count:
            found += int(count)
            store.command(f"DELETE FROM {table} WHERE {column} IN {{ids:Array(String)}}", params)
    return found


async def load_demo_once(platform: Platform, endpoints: Endpoints) -> None:
    from exos.demo.loader import load_demo
    from exos.demo.scenario import build_world

    store = platform.store
    assert store is not None
    previous, done = await asyncio.to_thread(previous_load, store)
    defaults = ServeSettings()
    seed, scale = (
        (previous["seed"], previous["scale"])
        if previous
        else (defaults.demo_seed, defaults.demo_scale)
    )
    anchor: datetime | None = previous["anchor"] if previous else None
    world = await asyncio.to_thread(build_world, seed, scale, anchor)  # CPU: off the loop
    anchor = world_anchor(world)
    missing = [plan.session_id for plan in world.sessions if plan.session_id not in done]
    if not missing:
        typer.echo(f"demo data already loaded ({len(done)} sessions)", err=True)
        return
    if done:
        removed = await asyncio.to_thread(delete_partial, store, missing)
        typer.echo(
            f"resuming the demo load: {len(done)} sessions were loaded, {len(missing)} to go"
            + (f" ({removed} rows of cut-off sessions removed first)" if removed else ""),
            err=True,
        )

    recorder = SessionRecorder(store, seed, scale, anchor)
    try:
        summary = await load_demo(
            endpoints.otlp,
            seed=seed,
            scale=scale,
            anchor=anchor,
            skip_sessions=done,
            on_session=recorder.sent,
            portal_url=endpoints.portal,
            # Protobuf, as the OpenTelemetry SDKs send it: ingest decodes it ~2x faster
            # than the SDK's OTLP/JSON, which keeps the default demo under a minute here.
            traces_encoding="protobuf",
        )
    finally:
        # Also when the load is cancelled: what was sent is recorded, not sent twice.
        await asyncio.shield(recorder.close())
    typer.echo(f"demo loaded: {summary.sessions} sessions; open {endpoints.portal}", err=True)


def world_anchor(world: Any) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(world.anchor_ns / 1e9, tz=UTC)
