"""A flood of the largest requests ingest accepts, against a real socket, while /healthz
is polled: shared by the flood test and bench/bench_ingest_flood.py."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from exos_common.bus import Delivery, OutgoingRecord
from exos_common.bus.memory import InProcessBus


class DiscardingBus(InProcessBus):
    """Acknowledges and forgets: a flood measures ingest, not a bus filling memory."""

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        return []


def heavy_traces(spans: int, attributes: int, now_ns: int) -> bytes:
    """Spans with many short attributes: the most Python work per decompressed byte
    (each attribute is a dict entry, a string and a limit check), gzip-compressed."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value="web"))
    resource_spans.resource.attributes.add(key="rum.sessionId", value=AnyValue(string_value="f1"))
    scope = resource_spans.scope_spans.add()
    for i in range(spans):
        span = scope.spans.add(
            trace_id=(i + 1).to_bytes(16, "big"),
            span_id=(i + 1).to_bytes(8, "big"),
            name="click",
            start_time_unix_nano=now_ns,
            end_time_unix_nano=now_ns + 1000,
        )
        for a in range(attributes):
            span.attributes.add(key=f"a{a}", value=AnyValue(int_value=a))
    return gzip.compress(request.SerializeToString(), 6)


@dataclass
class FloodResult:
    health_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    export_s: list[float] = field(default_factory=list)

    def health_quantile(self, q: float) -> float:
        ordered = sorted(self.health_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def flood(
    base_url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    senders: int,
    seconds: float,
    poll_every_s: float = 0.02,
) -> FloodResult:
    result = FloodResult()
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=senders + 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def send() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.post("/v1/traces", content=body, headers=headers)
                result.export_s.append(time.perf_counter() - started)
                result.statuses[response.status_code] += 1
                if response.status_code == 429:
                    await asyncio.sleep(0.05)

        async def poll() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get("/healthz")
                result.health_s.append(time.perf_counter() - started)
                assert response.status_code == 200
                await asyncio.sleep(poll_every_s)

        await asyncio.gather(poll(), *(send() for _ in range(senders)))
    return result
