"""A hand-built world for the analytics, site health and stats tests: four sessions of
three visitors over two weeks, whose answers are worked out by hand in the tests.

T0 = 09:00 UTC on `dates.MONDAY` (week 1, three weeks before the run's week, so every row
is inside the tables' retention on any day); week 2 starts 7 days later.

S1  V1 Chrome/macOS/desktop/US/Chicago, T0:
    +0 documentLoad /inbox, +1 lcp 2000, +1 cls 0.05, +2 longtask 80 ms (/inbox),
    +5 email.read, +10 routeChange /orders/ORD-1, +11 GET /api/orders/ORD-1 200 120 ms,
    +12 longtask 300 ms (/orders/:id), +30 routeChange /orders/ORD-1/scheduling,
    +31 POST /api/orders/ORD-1/schedule 503 90 ms, +50 email.sent, +60 click.
S2  V2 Firefox/Windows/desktop/DE/Berlin, T0 + 1 h:
    +0 documentLoad /inbox, +1 lcp 3000, +1 longtask 200 ms, +3 onerror (status Error;
    console error log "Cannot read properties of undefined (reading 'threads')"), +5 click.
S3  V1 again, T0 + 7 d:
    +0 documentLoad /inbox, +1 lcp 5000, +10 email.read, +20 routeChange /orders/ORD-2,
    +21 GET /api/orders/ORD-2 200 1500 ms, +25 console.error (status Error; log "Request
    failed: POST /api/orders/ORD-2/schedule 503"), +40 click.
S4  V3 Chrome/Android/mobile/US/Chicago, T0 + 7 d + 2 h:
    +0 documentLoad /inbox, +1 lcp 1000, +5 routeChange /orders/ORD-3,
    +6 GET /api/orders/ORD-3 200 100 ms, +7 inp 600 (/orders/:id),
    +15 routeChange /orders/ORD-3/scheduling, +16 POST /api/orders/ORD-3/schedule 500
    200 ms, +16 console.error (log "Request failed: POST /api/orders/ORD-3/schedule 503"),
    +18 the same again, +20 click. Plus one warn log at +19 (not an error).
Replay: two chunks for S1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from exos_common.store import Store
from exos_common.testing import dates

T0 = dates.on(0, 9, 0, 0)
ORIGIN = "https://portal.example"
SERVICE = "appraisal-portal"

VISITORS = {
    "V1": ("Chrome", "macOS", "desktop", "US", "Chicago"),
    "V2": ("Firefox", "Windows", "desktop", "DE", "Berlin"),
    "V3": ("Chrome", "Android", "mobile", "US", "Chicago"),
}
SESSION_START = {
    "S1": T0,
    "S2": T0 + timedelta(hours=1),
    "S3": T0 + timedelta(days=7),
    "S4": T0 + timedelta(days=7, hours=2),
}
SESSION_VISITOR = {"S1": "V1", "S2": "V2", "S3": "V1", "S4": "V3"}

TRACE_COLUMNS = [
    "Timestamp",
    "TraceId",
    "SpanId",
    "SpanName",
    "ServiceName",
    "ResourceAttributes",
    "SpanAttributes",
    "Duration",
    "StatusCode",
]
LOG_COLUMNS = [
    "Timestamp",
    "SeverityText",
    "ServiceName",
    "Body",
    "ResourceAttributes",
    "LogAttributes",
]
REPLAY_COLUMNS = ["Timestamp", "ServiceName", "Body", "ResourceAttributes"]


def at(session: str, seconds: float) -> datetime:
    return SESSION_START[session] + timedelta(seconds=seconds)


@dataclass
class World:
    spans: list[list[Any]] = field(default_factory=list)
    logs: list[list[Any]] = field(default_factory=list)
    replay: list[list[Any]] = field(default_factory=list)
    page: dict[str, str] = field(default_factory=dict)

    def span(
        self,
        session: str,
        seconds: float,
        name: str,
        attrs: dict[str, str] | None = None,
        *,
        duration_ms: float = 0,
        error: bool = False,
    ) -> None:
        browser, os, device, country, city = VISITORS[SESSION_VISITOR[session]]
        attributes = {
            "location.href": ORIGIN + self.page.get(session, "/"),
            "visitor.id": SESSION_VISITOR[session],
            "visitor.browser": browser,
            "visitor.os": os,
            "visitor.device_type": device,
            "visitor.country": country,
            "visitor.city": city,
            **(attrs or {}),
        }
        n = len(self.spans)
        self.spans.append(
            [
                at(session, seconds),
                f"{n:032x}",
                f"{n:016x}",
                name,
                SERVICE,
                {"rum.sessionId": session, "service.name": SERVICE},
                attributes,
                int(duration_ms * 1_000_000),
                "Error" if error else "Unset",
            ]
        )

    def view(self, session: str, seconds: float, path: str, *, first: bool = False) -> None:
        self.page[session] = path
        self.span(session, seconds, "documentLoad" if first else "routeChange")

    def http(
        self, session: str, seconds: float, method: str, path: str, status: int, ms: float
    ) -> None:
        self.span(
            session,
            seconds,
            f"HTTP {method}",
            {"http.method": method, "http.url": ORIGIN + path, "http.status_code": str(status)},
            duration_ms=ms,
        )

    def vital(self, session: str, seconds: float, metric: str, value: str) -> None:
        self.span(session, seconds, "webvitals", {metric: value})

    def console_error(self, session: str, seconds: float, name: str, message: str) -> None:
        self.span(session, seconds, name, {"component": "error"}, error=True)
        self.log(session, seconds, "error", message)

    def log(self, session: str, seconds: float, severity: str, message: str) -> None:
        self.logs.append(
            [
                at(session, seconds),
                severity,
                SERVICE,
                message,
                {"rum.sessionId": session},
                {"location.href": ORIGIN + self.page.get(session, "/")},
            ]
        )


def build() -> World:
    w = World()
    w.view("S1", 0, "/inbox", first=True)
    w.vital("S1", 1, "lcp", "2000")
    w.vital("S1", 1, "cls", "0.05")
    w.span("S1", 2, "longtask", duration_ms=80)
    w.span("S1", 5, "email.read")
    w.view("S1", 10, "/orders/ORD-1")
    w.http("S1", 11, "GET", "/api/orders/ORD-1", 200, 120)
    w.span("S1", 12, "longtask", duration_ms=300)
    w.view("S1", 30, "/orders/ORD-1/scheduling")
    w.http("S1", 31, "POST", "/api/orders/ORD-1/schedule", 503, 90)
    w.span("S1", 50, "email.sent")
    w.span("S1", 60, "click")

    w.view("S2", 0, "/inbox", first=True)
    w.vital("S2", 1, "lcp", "3000")
    w.span("S2", 1, "longtask", duration_ms=200)
    w.console_error("S2", 3, "onerror", "Cannot read properties of undefined (reading 'threads')")
    w.span("S2", 5, "click")

    w.view("S3", 0, "/inbox", first=True)
    w.vital("S3", 1, "lcp", "5000")
    w.span("S3", 10, "email.read")
    w.view("S3", 20, "/orders/ORD-2")
    w.http("S3", 21, "GET", "/api/orders/ORD-2", 200, 1500)
    w.console_error(
        "S3", 25, "console.error", "Request failed: POST /api/orders/ORD-2/schedule 503"
    )
    w.span("S3", 40, "click")

    w.view("S4", 0, "/inbox", first=True)
    w.vital("S4", 1, "lcp", "1000")
    w.view("S4", 5, "/orders/ORD-3")
    w.http("S4", 6, "GET", "/api/orders/ORD-3", 200, 100)
    w.vital("S4", 7, "inp", "600")
    w.view("S4", 15, "/orders/ORD-3/scheduling")
    w.http("S4", 16, "POST", "/api/orders/ORD-3/schedule", 500, 200)
    w.console_error(
        "S4", 16, "console.error", "Request failed: POST /api/orders/ORD-3/schedule 503"
    )
    w.console_error(
        "S4", 18, "console.error", "Request failed: POST /api/orders/ORD-3/schedule 503"
    )
    w.log("S4", 19, "warn", "[api] POST /api/orders/ORD-3/schedule 500, retrying")
    w.span("S4", 20, "click")

    for k in range(2):
        w.replay.append([at("S1", k), SERVICE, '{"type":4}', {"rum.sessionId": "S1"}])
    return w


def load(store: Store) -> World:
    world = build()
    store.insert("otel_traces", world.spans, TRACE_COLUMNS)
    store.insert("otel_logs", world.logs, LOG_COLUMNS)
    store.insert("hyperdx_sessions", world.replay, REPLAY_COLUMNS)
    return world


# The whole world is in [RANGE_FROM, RANGE_TO).
RANGE_FROM = dates.iso(-1, "00:00:00Z")
RANGE_TO = dates.iso(18, "00:00:00Z")
RANGE = {"from": RANGE_FROM, "to": RANGE_TO}
