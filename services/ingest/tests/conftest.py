"""Ingest fixtures: the app on the in-process bus, driven through httpx's ASGI transport
in the test's own event loop (so the bus and its consumers share that loop)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from exos_common.bus import Bus, create_bus
from exos_common.topics import pipeline_topic_specs
from exos_ingest.app import create_app

# The helper modules live next to the tests (`import ingest_samples, ingest_testkit`).
sys.path.insert(0, str(Path(__file__).parent))

from ingest_testkit import PEER, SAMPLE_NOW_NS, AppClient, settings_for


@pytest.fixture
async def memory_bus() -> AsyncIterator[Bus]:
    bus = create_bus("memory")
    await bus.ensure_topics(pipeline_topic_specs(3, 1, 8 * 1024 * 1024))
    yield bus
    await bus.stop()


@pytest.fixture
async def make_client(memory_bus: Bus) -> AsyncIterator[AppClient]:
    """`await make_client(bus=None, now_ns=SAMPLE_NOW_NS, **settings)` -> an httpx client
    on a fresh app whose lifespan has started (and is stopped after the test). The app's
    clock stands still at `now_ns`: the samples' timestamps stay recent whatever the date."""
    async with AsyncExitStack() as stack:

        async def make(
            bus: Bus | None = None, now_ns: int = SAMPLE_NOW_NS, **overrides: Any
        ) -> httpx.AsyncClient:
            app = create_app(settings_for(**overrides), bus=bus or memory_bus, clock=lambda: now_ns)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, client=PEER)
            client = httpx.AsyncClient(transport=transport, base_url="http://ingest.test")
            return await stack.enter_async_context(client)

        yield make


@pytest.fixture
async def client(make_client: AppClient) -> httpx.AsyncClient:
    return await make_client()
