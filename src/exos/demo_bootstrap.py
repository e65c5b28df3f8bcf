"""`exos up --demo`: load the demo data set once, through the platform's own OTLP port."""

from __future__ import annotations

import asyncio

import typer

from exos.allinone import Endpoints, Platform

DEMO_SERVICE = "appraisal-portal"


async def load_demo_once(platform: Platform, endpoints: Endpoints) -> None:
    from exos.demo.loader import load_demo

    assert platform.store is not None
    present = await asyncio.to_thread(
        platform.store.query_rows,
        "SELECT count() FROM otel_traces WHERE ServiceName = {s:String}",
        {"s": DEMO_SERVICE},
    )
    if present[0][0] > 0:
        typer.echo(
            f"demo data already loaded ({present[0][0]:,} spans); not loading again", err=True
        )
        return
    summary = await load_demo(endpoints.otlp, progress=True)
    typer.echo(f"demo loaded: {summary}\nopen {endpoints.portal}", err=True)
