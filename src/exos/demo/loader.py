"""Load the demo data set through a running ingest, over OTLP/HTTP, like the browsers
would: sessions are rendered one at a time (memory stays flat at any scale) and sent by
a few concurrent workers, each session's requests in order. 503/429 answers are retried
after their `Retry-After`; anything else that is not 2xx stops the load with the
server's message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from exos.demo.browser import ERRORS_SCOPE
from exos.demo.calendar import from_ns
from exos.demo.otlp import OtlpRequest, session_headers, session_requests
from exos.demo.scenario import SessionPlan, World, build_world
from exos.demo.sessions import render_session

RETRYABLE = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 12
DEFAULT_URL = "http://127.0.0.1:4318"
DEFAULT_PORTAL = "http://127.0.0.1:8080"


class DemoLoadError(RuntimeError):
    """Ingest refused the data (bad key, bad request) or stayed unavailable."""


@dataclass(slots=True)
class DemoSummary:
    """What was sent. `spans` counts what goes to otel_traces; console output the SDK
    sends as `console.*` spans is counted in `log_records` (ingest stores it as logs)."""

    seed: int
    scale: float
    url: str
    orders: int = 0
    operators: int = 0
    vendors: int = 0
    sessions: int = 0
    page_loads: int = 0
    spans: int = 0
    log_records: int = 0
    rrweb_events: int = 0
    replay_chunks: int = 0
    requests: int = 0
    bytes_sent: int = 0
    retries: int = 0
    rejected: int = 0  # records ingest refused in partial_success
    rage_clicks: int = 0  # made to happen; enrich should find these
    dead_clicks: int = 0
    quick_backs: int = 0
    excessive_scrolls: int = 0
    start: datetime | None = None
    end: datetime | None = None
    seconds: float = 0.0
    links: list[tuple[str, str]] = field(default_factory=list)
    rage_session: str = ""  # a session to open first

    def rows(self) -> list[tuple[str, str]]:
        """The summary as (what, how many) rows for a table."""
        span = f"{self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC" if self.start else ""
        return [
            ("time range", span),
            ("operators / vendors", f"{self.operators} / {self.vendors}"),
            ("orders", f"{self.orders:,}"),
            ("sessions (page loads)", f"{self.sessions:,} ({self.page_loads:,})"),
            ("spans -> otel_traces", f"{self.spans:,}"),
            ("console logs -> otel_logs", f"{self.log_records:,}"),
            ("rrweb events -> hyperdx_sessions", f"{self.rrweb_events:,}"),
            ("rrweb chunks (log records)", f"{self.replay_chunks:,}"),
            ("rage clicks, dead clicks", f"{self.rage_clicks}, {self.dead_clicks}"),
            ("quick backs, excessive scrolls", f"{self.quick_backs}, {self.excessive_scrolls}"),
            ("requests (retried)", f"{self.requests:,} ({self.retries})"),
            ("sent", f"{self.bytes_sent / 1e6:,.1f} MB in {self.seconds:.1f} s"),
        ]


SessionCallback = Callable[[DemoSummary, SessionPlan], None]


class _Loader:
    """Workers take the next session, render it and send its requests in order."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        world: World,
        api_key: str | None,
        summary: DemoSummary,
        on_session: SessionCallback | None,
        traces_encoding: str = "json",
        plans: list[SessionPlan] | None = None,
    ) -> None:
        self.client = client
        self.traces_encoding = traces_encoding
        self.world = world
        self.api_key = api_key
        self.summary = summary
        self.on_session = on_session
        self.queue: asyncio.Queue[SessionPlan] = asyncio.Queue()
        for plan in world.sessions if plans is None else plans:
            self.queue.put_nowait(plan)

    async def run(self, concurrency: int) -> None:
        workers = [asyncio.create_task(self._worker()) for _ in range(max(1, concurrency))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()

    async def _worker(self) -> None:
        summary = self.summary
        while True:
            try:
                plan = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            session = render_session(self.world, plan)
            headers = session_headers(session, self.api_key)
            for request in session_requests(session, self.traces_encoding):
                await self._send(request, headers)
                summary.requests += 1
                summary.bytes_sent += len(request.body)
                summary.spans += request.spans - request.console
                summary.log_records += request.console
                summary.rrweb_events += request.rrweb_events
                summary.replay_chunks += request.chunks
            summary.page_loads += len(session.resources)
            # errors (component `error`) are spans and log records both
            summary.log_records += sum(1 for s in session.spans if s.scope == ERRORS_SCOPE)
            made = session.frustration
            summary.rage_clicks += made.rage_clicks
            summary.dead_clicks += made.dead_clicks
            summary.quick_backs += made.quick_backs
            summary.excessive_scrolls += made.excessive_scrolls
            if made.rage_clicks and not summary.rage_session:
                summary.rage_session = plan.session_id
            summary.sessions += 1
            if self.on_session is not None:
                self.on_session(summary, plan)

    async def _send(self, request: OtlpRequest, headers: dict[str, str]) -> None:
        send_headers = dict(headers, **{"content-type": request.content_type})
        if request.content_encoding:
            send_headers["content-encoding"] = request.content_encoding
        delay = 0.5
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = await self.client.post(
                    request.path, content=request.body, headers=send_headers
                )
            except httpx.TransportError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise DemoLoadError(f"{request.path}: {exc!r}") from exc
            else:
                status = response.status_code
                if status < 300:
                    self.summary.rejected += _rejected(request, response.content)
                    return
                if status not in RETRYABLE or attempt == MAX_ATTEMPTS:
                    detail = response.text[:300]
                    raise DemoLoadError(f"{request.path}: HTTP {status} {detail}")
                retry_after = response.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = float(retry_after)
            self.summary.retries += 1
            await asyncio.sleep(min(delay, 30.0))
            delay = min(delay * 2, 30.0)


def _rejected(request: OtlpRequest, content: bytes) -> int:
    """Records refused in the answer's partial_success."""
    if not content:
        return 0
    if request.content_type == "application/json":
        partial = orjson.loads(content).get("partialSuccess") or {}
        return int(partial.get("rejectedSpans", 0) or 0)
    response = ExportLogsServiceResponse()
    response.ParseFromString(content)
    return int(response.partial_success.rejected_log_records)


def portal_links(portal_url: str, summary: DemoSummary) -> list[tuple[str, str]]:
    base = portal_url.rstrip("/")
    links = [
        ("Process Mining", f"{base}/process-mining"),
        ("Sessions (replay)", f"{base}/sessions"),
        ("Product Analytics", f"{base}/analytics"),
        ("Site Health", f"{base}/site-health"),
        ("Ask AI", f"{base}/ask"),
    ]
    if summary.rage_session:
        links.insert(2, ("A session with rage clicks", f"{base}/sessions/{summary.rage_session}"))
    return links


async def load_demo(
    url: str = DEFAULT_URL,
    *,
    scale: float = 1.0,
    seed: int = 7,
    api_key: str | None = None,
    progress: bool = True,
    concurrency: int = 4,
    anchor: datetime | None = None,
    portal_url: str = DEFAULT_PORTAL,
    transport: httpx.AsyncBaseTransport | None = None,
    on_session: SessionCallback | None = None,
    traces_encoding: str = "json",
    skip_sessions: Collection[str] = (),
) -> DemoSummary:
    """Generate the demo world for `seed`/`scale` (ending at `anchor`, default this hour)
    and send it to the OTLP/HTTP ingest at `url`. `progress` draws a rich progress bar
    on the terminal; `transport` lets tests talk to an in-process app; traces go as
    OTLP/JSON like the HyperDX SDK sends them, or `traces_encoding="protobuf"`.
    Sessions whose id is in `skip_sessions` are not sent (a resumed load); `on_session`
    is called after each session's last request was acknowledged."""
    if traces_encoding not in ("json", "protobuf"):
        raise ValueError(f"traces_encoding must be json or protobuf, not {traces_encoding!r}")
    started = time.monotonic()
    world = build_world(seed, scale, anchor)
    summary = DemoSummary(
        seed=seed,
        scale=scale,
        url=url,
        orders=len(world.orders),
        operators=len(world.operators),
        vendors=len(world.vendors),
        start=from_ns(world.start_ns),
        end=from_ns(world.anchor_ns),
    )
    skip = set(skip_sessions)
    plans = [plan for plan in world.sessions if plan.session_id not in skip]
    timeout = httpx.Timeout(60.0, connect=10.0)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=timeout, limits=limits, transport=transport
    ) as client:
        if progress:
            with _progress_bar(len(plans)) as advance:
                callback = _chain(advance, on_session)
                loader = _Loader(client, world, api_key, summary, callback, traces_encoding, plans)
                await loader.run(concurrency)
        else:
            loader = _Loader(client, world, api_key, summary, on_session, traces_encoding, plans)
            await loader.run(concurrency)
    summary.seconds = time.monotonic() - started
    summary.links = portal_links(portal_url, summary)
    return summary


def _chain(first: SessionCallback, then: SessionCallback | None) -> SessionCallback:
    def both(summary: DemoSummary, plan: SessionPlan) -> None:
        first(summary, plan)
        if then is not None:
            then(summary, plan)

    return both


@contextmanager
def _progress_bar(total: int) -> Iterator[SessionCallback]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]demo[/] sessions"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("load", total=total, counts="")

        def advance(done: DemoSummary, _: SessionPlan) -> None:
            counts = f"{done.spans:,} spans  {done.log_records:,} logs  {done.rrweb_events:,} rrweb"
            bar.update(task, completed=done.sessions, counts=counts)

        yield advance
