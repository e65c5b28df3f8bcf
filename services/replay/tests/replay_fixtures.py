"""Hand-built sessions written straight into the three tables, as the writer stores
them (ns timestamps, `rr-web.*` numbers as strings, chunked rrweb JSON).

`SESSION` is the reference session the tests compute their expectations from by hand:
a 60 s recording starting at T0 (its first rrweb event, the Meta), a full snapshot in
two chunks, two scrolls, a last mouse event at T0 + 60 s, and these spans and logs:

| at (s) | what                                   | heatbar weight | marker        |
|-------:|----------------------------------------|---------------:|---------------|
|    0.5 | documentLoad /orders                   | 2.0            | navigation    |
|    5   | webvitals lcp=1234                     | -              |               |
|   10   | click x2 (one physical click), mousedown | 1.0+1.0+0.8  |               |
|   11   | dead_click                             | -              |               |
|   12   | HTTP POST /api/orders 500 (Error)      | 0.6            | error         |
|   15   | log info "order saved"                 |                |               |
|   20, 20.5 | rrweb scroll                       | 0.2 each       |               |
|   25   | log warn "slow response"               |                |               |
|   30   | rage_click                             | -              | rage_click    |
|   35   | onerror span (Error) + its error log   | -              | error (once)  |
|   40   | routeChange /orders/42                 | -              | navigation    |
|   40.1 | page.order_detail                      | -              | navigation    |
|   45   | longtask                               | 1.5            |               |
|   50   | visibility                             | -              |               |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from exos_common.store import Store
from exos_common.testing import dates

# 11:06:40 UTC on the Wednesday of the second fixture week (inside the tables' retention on
# any run date), in ns.
T0 = dates.to_ns(dates.on(16, 11, 6, 40))
S = 1_000_000_000
MS = 1_000_000
SESSION = "fix-session-1"
NO_RECORDING = "fix-session-norec"
BROKEN = "fix-session-broken"
SERVICE = "fixture-portal"

TRACE_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "SpanName",
    "ServiceName",
    "ResourceAttributes",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
)
LOG_COLUMNS = (
    "Timestamp",
    "SpanId",
    "SeverityText",
    "ServiceName",
    "Body",
    "ResourceAttributes",
    "LogAttributes",
)
REPLAY_COLUMNS = (
    "Timestamp",
    "ServiceName",
    "Body",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "LogAttributes",
)


@dataclass
class SessionRows:
    session_id: str
    start_ns: int
    traces: list[list[Any]] = field(default_factory=list)
    logs: list[list[Any]] = field(default_factory=list)
    replay: list[list[Any]] = field(default_factory=list)
    ordinal: int = 0
    identity: dict[str, str] = field(default_factory=dict)
    visitor: dict[str, str] = field(default_factory=dict)

    def resource(self) -> dict[str, str]:
        return {"service.name": SERVICE, "rum.sessionId": self.session_id}

    def span(
        self,
        at_s: float,
        name: str,
        *,
        status: str = "Unset",
        message: str = "",
        span_id: str | None = None,
        duration_ms: float = 1,
        **attributes: str,
    ) -> None:
        attrs = {"location.href": "https://app.test/orders", **self.visitor, **self.identity}
        attrs.update({k.replace("__", "."): v for k, v in attributes.items()})
        self.traces.append(
            [
                self.start_ns + round(at_s * S),
                "t" * 32,
                span_id or f"{len(self.traces):016x}",
                name,
                SERVICE,
                self.resource(),
                attrs,
                round(duration_ms * MS),
                status,
                message,
            ]
        )

    def log(self, at_s: float, level: str, body: str, span_id: str = "") -> None:
        self.logs.append(
            [self.start_ns + round(at_s * S), span_id, level, SERVICE, body, self.resource(), {}]
        )

    def rrweb(self, at_s: float, event_type: int, data: dict[str, Any], chunks: int = 1) -> None:
        """One rrweb event, sliced into `chunks` records as the recorder does."""
        self.ordinal += 1
        ts_ms = (self.start_ns + round(at_s * S)) // MS
        text = orjson.dumps({"type": event_type, "data": data, "timestamp": ts_ms}).decode()
        size = -(-len(text) // chunks)
        for index in range(chunks):
            self.replay.append(
                [
                    ts_ms * MS,
                    SERVICE,
                    text[index * size : (index + 1) * size],
                    self.resource(),
                    "rum.rr-web",
                    "3.0.0",
                    {
                        "rr-web.event": str(self.ordinal),
                        "rr-web.chunk": str(index + 1),
                        "rr-web.total-chunks": str(chunks),
                    },
                ]
            )

    def write(self, store: Store, token: str | None = None) -> None:
        if self.traces:
            store.insert("otel_traces", self.traces, TRACE_COLUMNS, dedup_token=token)
        if self.logs:
            store.insert("otel_logs", self.logs, LOG_COLUMNS, dedup_token=token)
        if self.replay:
            store.insert("hyperdx_sessions", self.replay, REPLAY_COLUMNS, dedup_token=token)


def full_snapshot(text: str) -> dict[str, Any]:
    """A minimal page rrweb can rebuild: <html><head/><body><h1>text</h1></body></html>."""
    return {
        "node": {
            "type": 0,
            "id": 1,
            "childNodes": [
                {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2},
                {
                    "type": 2,
                    "tagName": "html",
                    "attributes": {},
                    "id": 3,
                    "childNodes": [
                        {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 4},
                        {
                            "type": 2,
                            "tagName": "body",
                            "attributes": {},
                            "id": 5,
                            "childNodes": [
                                {
                                    "type": 2,
                                    "tagName": "h1",
                                    "attributes": {"id": "title"},
                                    "id": 6,
                                    "childNodes": [{"type": 3, "textContent": text, "id": 7}],
                                }
                            ],
                        },
                    ],
                },
            ],
        },
        "initialOffset": {"left": 0, "top": 0},
    }


def record_page(rows: SessionRows, text: str, end_s: float, snapshot_chunks: int = 2) -> None:
    rows.rrweb(0, 4, {"href": "https://app.test/orders", "width": 1024, "height": 768})
    rows.rrweb(0.01, 2, full_snapshot(text), chunks=snapshot_chunks)
    rows.rrweb(20, 3, {"source": 3, "id": 1, "x": 0, "y": 100})
    rows.rrweb(20.5, 3, {"source": 3, "id": 1, "x": 0, "y": 300})
    rows.rrweb(end_s, 3, {"source": 2, "type": 2, "id": 6, "x": 10, "y": 10})


def reference_session(start_ns: int = T0, session_id: str = SESSION) -> SessionRows:
    rows = SessionRows(session_id, start_ns)
    rows.visitor = {
        "visitor.city": "Chicago",
        "visitor.country": "US",
        "visitor.browser": "Chrome",
        "visitor.os": "macOS",
        "visitor.device_type": "desktop",
        "visitor.ip": "73.162.x.x",
        "visitor.returning": "true",
        "visitor.visit_count": "14",
    }
    rows.span(0.5, "documentLoad")
    rows.span(5, "webvitals", lcp="1234")
    rows.identity = {"user.email": "ann@example.test", "user.name": "Ann", "user.uid": "u-1"}
    for _ in range(2):
        rows.span(10, "click", target_xpath='//*[@id="save"]', target_element="BUTTON")
    rows.span(10, "mousedown", target_xpath='//*[@id="save"]')
    rows.span(11, "dead_click", target_xpath='//*[@id="save"]')
    rows.span(
        12,
        "HTTP POST",
        status="Error",
        message="500",
        http__method="POST",
        http__url="https://app.test/api/orders",
        http__status_code="500",
        duration_ms=180,
    )
    rows.log(15, "info", "order saved")
    rows.log(25, "warn", "slow response")
    rows.span(30, "rage_click", target_xpath='//*[@id="refresh"]')
    rows.span(35, "onerror", status="Error", message="boom", span_id="e" * 16)
    rows.log(35, "error", "boom", span_id="e" * 16)
    rows.span(40, "routeChange", location__href="https://app.test/orders/42")
    rows.span(40.1, "page.order_detail", location__href="https://app.test/orders/42")
    rows.span(45, "longtask", duration_ms=120)
    rows.span(50, "visibility", visibility__state="hidden")
    record_page(rows, "Fixture orders page", 60)
    return rows


def no_recording_session(start_ns: int = T0 + 3600 * S) -> SessionRows:
    rows = SessionRows(NO_RECORDING, start_ns)
    rows.visitor = {"visitor.city": "Denver", "visitor.country": "US", "visitor.returning": "false"}
    rows.span(0, "documentLoad")
    rows.span(3, "click", target_xpath="//a")
    rows.log(4, "info", "no replay here")
    rows.span(90, "visibility")
    return rows


def broken_session(start_ns: int = T0 + 7200 * S) -> SessionRows:
    """A recording whose full snapshot never arrived (only Meta and changes)."""
    rows = SessionRows(BROKEN, start_ns)
    rows.span(0, "documentLoad")
    rows.rrweb(0, 4, {"href": "https://app.test/", "width": 800, "height": 600})
    rows.rrweb(1, 3, {"source": 2, "type": 2, "id": 6, "x": 1, "y": 1})
    return rows
