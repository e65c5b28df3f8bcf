"""Nothing a browser sends freezes ingest: while 8 senders post the largest gzip
requests ingest accepts for ~5 s, /healthz keeps answering. The bound asserted is
generous (a shared 2-core box); the measured p99 is in bench/bench_ingest_flood.py."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from flood import DiscardingBus, flood, heavy_traces
from ingest_testkit import API_KEY, settings_for

from exos_common.testing.servers import serve_in_thread
from exos_common.topics import pipeline_topic_specs
from exos_ingest.app import create_app

MIB = 1024 * 1024

FROZEN_S = 5.0


def served_app(**overrides: Any) -> FastAPI:
    bus = DiscardingBus()
    app = create_app(settings_for(**overrides), bus=bus)
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await bus.ensure_topics(pipeline_topic_specs(1, 1, 8 * MIB))
        async with app_lifespan(app):
            yield
        await bus.stop()

    app.router.lifespan_context = lifespan
    return app


async def test_healthz_answers_during_a_flood_of_max_size_requests() -> None:
    # 10,000 spans (the per-request limit) of 40 attributes: ~5.6 MB decoded, ~120 KB
    # gzip, just under the 6 MiB decompressed limit of the test settings.
    body = heavy_traces(10_000, 40, time.time_ns())
    headers = {
        "content-type": "application/x-protobuf",
        "content-encoding": "gzip",
        "authorization": API_KEY,
    }
    app = served_app(ingest_max_concurrent_requests=2, ingest_queue_wait_s=0.5)
    with serve_in_thread(app) as url:
        result = await flood(url, body, headers, senders=8, seconds=5.0)

    assert len(result.health_s) >= 10, "the poller barely ran"
    # Not a latency target (that is the bench's): a freeze. Before decoding moved off the
    # loop, /healthz went unanswered for 11 s of such a flood; a loaded box has been
    # seen at 1.1 s without any freeze.
    assert max(result.health_s) < FROZEN_S, sorted(result.health_s)[-5:]
    assert set(result.statuses) <= {200, 429}, result.statuses
    assert result.statuses[200] >= 1, result.statuses
