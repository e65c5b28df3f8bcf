"""A hand-built world for the insights tests: three orders worked by two operators,
a few browser spans and logs. Answers are worked out by hand in the tests.

    order  lob       operator  events (SpanName @ minutes after T0)
    O-1    purchase  Alice     order.created @0, review.started @10, report.submitted @20
    O-2    closing   Alice     order.created @5, review.started @30
    O-3    closing   Bob       order.created @7

Session S-1 (Alice): documentLoad @0, HTTP POST /api/inbox 200 ms @1, click @2,
rage_click @3.  Session S-2 (Bob): documentLoad @0, HTTP GET /api/orders 50 ms @1.
Logs: S-1 info "loaded" @0, S-1 error "boom" @2, S-2 error "bad" @1, S-2 error "worse" @2.

So: orders per operator Alice 2, Bob 1; closing orders per operator Alice 1, Bob 1;
spans 12 (6 domain events, 6 browser spans); error logs 3 (S-2: 2, S-1: 1).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from exos_common.store import Store
from exos_common.testing import dates

# 14:00 UTC on the Wednesday after the second fixture week: inside the tables' retention
# on any run date.
T0 = dates.on(16, 14)
SERVICE = "appraisal-portal"
OPERATORS = {"Alice": "op-001", "Bob": "op-002"}
ORDERS = {"O-1": ("purchase", "Alice"), "O-2": ("closing", "Alice"), "O-3": ("closing", "Bob")}
SESSION_OF = {"Alice": "S-1", "Bob": "S-2"}
DOMAIN_EVENTS = [
    ("O-1", "order.created", 0),
    ("O-1", "review.started", 10),
    ("O-1", "report.submitted", 20),
    ("O-2", "order.created", 5),
    ("O-2", "review.started", 30),
    ("O-3", "order.created", 7),
]
BROWSER_SPANS = [
    ("S-1", "documentLoad", 0, 900_000_000, {"location.href": "https://portal/inbox"}),
    ("S-1", "HTTP POST", 1, 200_000_000, {"http.url": "/api/inbox", "http.method": "POST"}),
    ("S-1", "click", 2, 0, {"target_element": "BUTTON"}),
    ("S-1", "rage_click", 3, 0, {"target_element": "BUTTON", "frustration.count": "6"}),
    ("S-2", "documentLoad", 0, 700_000_000, {"location.href": "https://portal/orders"}),
    ("S-2", "HTTP GET", 1, 50_000_000, {"http.url": "/api/orders", "http.method": "GET"}),
]
LOGS = [("S-1", "info", "loaded", 0), ("S-1", "error", "boom", 2), ("S-2", "error", "bad", 1),
        ("S-2", "error", "worse", 2)]  # fmt: skip
TRACE_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "SpanName", "ServiceName", "ResourceAttributes",
    "SpanAttributes", "Duration", "StatusCode",
]  # fmt: skip
LOG_COLUMNS = ["Timestamp", "SeverityText", "ServiceName", "Body", "ResourceAttributes"]


def resource(session: str) -> dict[str, str]:
    return {"rum.sessionId": session, "service.name": SERVICE}


def build(store: Store) -> None:
    spans: list[list[Any]] = []
    for n, (order, name, minute) in enumerate(DOMAIN_EVENTS):
        lob, operator = ORDERS[order]
        attributes = {
            "order.id": order,
            "order.lob": lob,
            "operator.name": operator,
            "operator.id": OPERATORS[operator],
        }
        spans.append(
            [T0 + timedelta(minutes=minute), f"t{n}", f"s{n}", name, SERVICE,
             resource(SESSION_OF[operator]), attributes, 0, "Unset"]
        )  # fmt: skip
    for n, (session, name, minute, duration, attributes) in enumerate(BROWSER_SPANS):
        spans.append(
            [T0 + timedelta(minutes=minute), f"b{n}", f"bs{n}", name, SERVICE,
             resource(session), attributes, duration, "Unset"]
        )  # fmt: skip
    store.insert("otel_traces", spans, TRACE_COLUMNS)
    logs = [
        [T0 + timedelta(minutes=minute), severity, SERVICE, body, resource(session)]
        for session, severity, body, minute in LOGS
    ]
    store.insert("otel_logs", logs, LOG_COLUMNS)


def table_state(store: Store) -> dict[str, int]:
    """Every table of the database with its row count: what a hostile statement would
    change."""
    names = [
        r[0]
        for r in store.query_rows(
            "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
            {"db": store.database},
        )
    ]
    return {
        name: int(store.query_rows(f"SELECT count() FROM `{name}`")[0][0])
        for name in names
        if not name.endswith("_mv")
    }
