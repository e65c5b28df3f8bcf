"""Sending traffic to ingest and accounting for it: what the answers say was accepted,
and where the accepted records are in ClickHouse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from exos_common.store import Store

from .traffic import ANSWER_BOUND_S, LOGS, PROTOBUF, TRACES, OtlpRequest

RETRIES = 5
TABLES = {TRACES: ("otel_traces",), LOGS: ("otel_logs", "hyperdx_sessions")}


@dataclass
class Ledger:
    """What ingest's answers say it accepted, per signal, and how the requests went."""

    accepted: dict[str, int] = field(default_factory=lambda: {TRACES: 0, LOGS: 0})
    statuses: dict[int, int] = field(default_factory=dict)
    rejected: int = 0
    retried: int = 0
    slowest_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"requests by status {dict(sorted(self.statuses.items()))}, accepted {self.accepted}, "
            f"rejected in partial_success {self.rejected}, retried {self.retried}, "
            f"slowest answer {self.slowest_s:.2f} s"
        )


def rejected_in(response: httpx.Response, request: OtlpRequest) -> int:
    """partial_success's rejected count, in the request's encoding."""
    if request.content_type == PROTOBUF:
        if request.path == TRACES:
            traces = ExportTraceServiceResponse.FromString(response.content)
            return int(traces.partial_success.rejected_spans)
        logs = ExportLogsServiceResponse.FromString(response.content)
        return int(logs.partial_success.rejected_log_records)
    key = "rejectedSpans" if request.path == TRACES else "rejectedLogRecords"
    return int(response.json().get("partialSuccess", {}).get(key, 0))


Post = Callable[[OtlpRequest], Awaitable[httpx.Response]]


def poster(client: httpx.AsyncClient, api_key: str) -> Post:
    async def post(request: OtlpRequest) -> httpx.Response:
        headers = {"content-type": request.content_type, "authorization": api_key}
        headers.update(dict(request.extra_headers))
        return await client.post(request.path, content=request.body, headers=headers)

    return post


async def wait_retry_after(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def _send_one(post: Post, request: OtlpRequest, ledger: Ledger) -> None:
    for _ in range(RETRIES):
        started = time.monotonic()
        response = await asyncio.wait_for(post(request), ANSWER_BOUND_S)
        elapsed = time.monotonic() - started
        ledger.slowest_s = max(ledger.slowest_s, elapsed)
        if elapsed > ANSWER_BOUND_S:
            ledger.problems.append(f"{request.name}: answered in {elapsed:.1f} s")
        status = response.status_code
        ledger.statuses[status] = ledger.statuses.get(status, 0) + 1
        busy = status in (429, 503)
        if busy and "retry-after" not in response.headers:
            ledger.problems.append(f"{request.name}: {status} without Retry-After")
        if not busy:
            break
        ledger.retried += 1  # a sender retries a busy answer; the records must still land
        await wait_retry_after(float(response.headers.get("retry-after", "1")))
    if status not in request.status:
        ledger.problems.append(f"{request.name}: {status}, expected {sorted(request.status)}")
        return
    if status != 200:
        return
    rejected = rejected_in(response, request)
    if request.rejected is not None and rejected != request.rejected:
        ledger.problems.append(f"{request.name}: {rejected} rejected, expected {request.rejected}")
    ledger.rejected += rejected
    ledger.accepted[request.path] += request.records - rejected


async def send_all(post: Post, requests: Sequence[OtlpRequest], concurrency: int = 4) -> Ledger:
    """Send every request, `concurrency` at a time; a 429/503 is retried after its
    Retry-After as an OTLP exporter does."""
    ledger = Ledger()
    gate = asyncio.Semaphore(concurrency)

    async def one(request: OtlpRequest) -> None:
        async with gate:
            await _send_one(post, request, ledger)

    await asyncio.gather(*(one(r) for r in requests))
    return ledger


# ---- what ClickHouse holds ----------------------------------------------------------------


def stored(store: Store, signal: str) -> int:
    """Rows of the signal's tables plus their quarantined records."""
    total = 0
    for table in TABLES[signal]:
        total += int(store.query_rows(f"SELECT count() FROM {table}")[0][0])
    quarantined = store.query_rows(
        "SELECT count() FROM exos_quarantine WHERE target_table IN {tables:Array(String)}",
        {"tables": list(TABLES[signal])},
    )
    return total + int(quarantined[0][0])


def quarantine(store: Store) -> list[tuple[Any, ...]]:
    return store.query_rows(
        "SELECT target_table, topic, error_class, error_name, error_text, "
        "base64Decode(raw_message) FROM exos_quarantine ORDER BY target_table, offset"
    )


SESSION_SPANS = (
    "SELECT ResourceAttributes['rum.sessionId'] AS session, count(), uniqExact(SpanId) "
    "FROM otel_traces WHERE startsWith(session, {run:String}) GROUP BY session"
)
SESSION_LOGS = (
    "SELECT ResourceAttributes['rum.sessionId'] AS session, count(), uniqExact(Body) "
    "FROM otel_logs WHERE startsWith(session, {run:String}) GROUP BY session"
)


def per_session(store: Store, run: str) -> dict[str, tuple[int, int, int, int]]:
    """session -> (spans, distinct span ids, logs, distinct log bodies) of the run."""
    result: dict[str, list[int]] = {}
    for query, at in ((SESSION_SPANS, 0), (SESSION_LOGS, 2)):
        for session, count, distinct in store.query_rows(query, {"run": run}):
            result.setdefault(session, [0, 0, 0, 0])[at : at + 2] = [int(count), int(distinct)]
    return {session: (c[0], c[1], c[2], c[3]) for session, c in result.items()}


async def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what())
        await asyncio.sleep(0.25)
