"""A small hand-built world for the process-mining and OCPM tests: six orders, three
browser sessions of page views and a burst of rage clicks, inserted as spans into
otel_traces (the process_events view picks the domain events up). The expected numbers
in the tests are worked out by hand from the tables below.

Orders (hours after the order's start; c = coordinator, q = the QC reviewer op-q):

    O1 purchase V-1 op-a  Mon 09:00  created 0, assigned 1, scheduled 2, completed 26,
                                       route_to_qc 28, review 30(q), submitted 31(q),
                                       closed 32, email.sent 32:01
    O6 purchase V-2 op-b  Tue 09:00  like O1 but completed 50, route 52, review 60(q),
                                       submitted 61(q), closed 62, email.sent 62:01
    O2 refinance V-1 op-a Mon 10:00  created 0, assigned 1, scheduled 2, completed 26,
                                       route 28, review 30(q), revision 30:30(q), route 40,
                                       review 42(q), submitted 43(q), closed 44
    O5 refinance V-1 op-b Mon 11:00  as O2 to route 40, review 42(q), revision 42:30(q),
                                       route 50, review 52(q), submitted 53(q), closed 54
    O3 heloc V-2 op-a     Wed 09:00  created 0, assigned 1, route 20, review 22(q),
                                       submitted 23(q), closed 24   (desktop: no inspection)
    O4 purchase V-2 op-b  Thu 09:00  created 0, assigned 1, scheduled 2   (still open)

Mon..Fri are the days of the week of `dates.MONDAY`, three weeks before the run.
Plus `page.inbox` of op-a at Mon 08:59 (no order). vendor.id is set from `assigned` on.
Every event's session is `s-<operator>-d<N>`, N the day of the week it happened (Mon = 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from exos_common.store import Store
from exos_common.testing import dates
from exos_common.testing.stores import open_migrated_store
from exos_query_api.app import create_app

FROM = dates.iso(-1, "00:00:00Z")
TO = dates.iso(8, "00:00:00Z")
SERVICE = "portal"
ORIGIN = "https://portal.example"

OPERATORS = {
    "op-a": ("Ann Able", "coordinator", "Purchase Desk"),
    "op-b": ("Ben Best", "coordinator", "Refinance Desk"),
    "op-q": ("Quinn Quality", "qc_reviewer", "Quality Control"),
}
ORDERS: dict[str, tuple[str, str, str, datetime]] = {
    # id: (lob, vendor, coordinator, start)
    "O1": ("purchase", "V-1", "op-a", dates.on(0, 9)),
    "O6": ("purchase", "V-2", "op-b", dates.on(1, 9)),
    "O2": ("refinance", "V-1", "op-a", dates.on(0, 10)),
    "O5": ("refinance", "V-1", "op-b", dates.on(0, 11)),
    "O3": ("heloc", "V-2", "op-a", dates.on(2, 9)),
    "O4": ("purchase", "V-2", "op-b", dates.on(3, 9)),
}
Q = "op-q"
# (hours after start, activity, by reviewer?)
_O1 = [
    (0, "order.created", False),
    (1, "appraisal.assigned", False),
    (2, "inspection.scheduled", False),
    (26, "inspection.completed", False),
    (28, "action.route_to_qc", False),
    (30, "review.started", True),
    (31, "report.submitted", True),
    (32, "order.closed", False),
    (32 + 1 / 60, "email.sent", False),
]
_O2_HEAD = [
    (0, "order.created", False),
    (1, "appraisal.assigned", False),
    (2, "inspection.scheduled", False),
    (26, "inspection.completed", False),
    (28, "action.route_to_qc", False),
    (30, "review.started", True),
    (30.5, "revision.requested", True),
    (40, "action.route_to_qc", False),
    (42, "review.started", True),
]
SCRIPTS: dict[str, list[tuple[float, str, bool]]] = {
    "O1": _O1,
    "O6": [
        (0, "order.created", False),
        (1, "appraisal.assigned", False),
        (2, "inspection.scheduled", False),
        (50, "inspection.completed", False),
        (52, "action.route_to_qc", False),
        (60, "review.started", True),
        (61, "report.submitted", True),
        (62, "order.closed", False),
        (62 + 1 / 60, "email.sent", False),
    ],
    "O2": [*_O2_HEAD, (43, "report.submitted", True), (44, "order.closed", False)],
    "O5": [
        *_O2_HEAD,
        (42.5, "revision.requested", True),
        (50, "action.route_to_qc", False),
        (52, "review.started", True),
        (53, "report.submitted", True),
        (54, "order.closed", False),
    ],
    "O3": [
        (0, "order.created", False),
        (1, "appraisal.assigned", False),
        (20, "action.route_to_qc", False),
        (22, "review.started", True),
        (23, "report.submitted", True),
        (24, "order.closed", False),
    ],
    "O4": [
        (0, "order.created", False),
        (1, "appraisal.assigned", False),
        (2, "inspection.scheduled", False),
    ],
}
INBOX_AT = dates.on(0, 8, 59)

# Page views: (session, minutes after Fri 10:00, span, path). P2's documentLoad of the
# page it is on is a reload (not a new step).
PAGE_VIEWS = [
    ("P1", 0, "documentLoad", "/inbox"),
    ("P1", 2, "routeChange", "/orders/ORD-1"),
    ("P1", 5, "routeChange", "/inbox"),
    ("P1", 6, "routeChange", "/orders/ORD-2/documents"),
    ("P2", 10, "documentLoad", "/inbox"),
    ("P2", 11, "routeChange", "/orders/ORD-3"),
    ("P2", 12, "documentLoad", "/orders/ORD-3"),
    ("P2", 20, "routeChange", "/inbox"),
    ("P3", 30, "documentLoad", "/inbox"),
    ("P3", 31, "routeChange", "/orders/ORD-4"),
]
PAGES_START = dates.on(4, 10)

# Rage clicks per day (Mon .. Fri); on Fri five in session X, three in Y.
RAGE = [
    (dates.on(0, 12), "R1"),
    (dates.on(1, 12), "R1"),
    (dates.on(1, 13), "R2"),
    (dates.on(2, 12), "R1"),
    (dates.on(3, 12), "R1"),
    (dates.on(3, 13), "R2"),
    *[(dates.on(4, 14, minute), "X") for minute in range(5)],
    *[(dates.on(4, 15, minute), "Y") for minute in range(3)],
]

COLUMNS = [
    "Timestamp",
    "TraceId",
    "SpanId",
    "SpanName",
    "ServiceName",
    "ResourceAttributes",
    "SpanAttributes",
    "ScopeName",
    "StatusCode",
]


def session_of(operator: str, at: datetime) -> str:
    return f"s-{operator}-d{(at - dates.MONDAY).days}"


def at(order: str, hours: float) -> datetime:
    return ORDERS[order][3] + timedelta(hours=hours)


def operator_attributes(operator: str) -> dict[str, str]:
    name, role, team = OPERATORS[operator]
    return {
        "operator.id": operator,
        "operator.name": name,
        "operator.role": role,
        "operator.team": team,
    }


def order_events() -> list[tuple[datetime, str, str, str]]:
    """(time, order, activity, operator) of every domain event of an order."""
    out = []
    for order, script in SCRIPTS.items():
        coordinator = ORDERS[order][2]
        for hours, activity, by_reviewer in script:
            out.append((at(order, hours), order, activity, Q if by_reviewer else coordinator))
    return out


def _span(
    n: int, when: datetime, name: str, session: str, attributes: dict[str, str], scope: str
) -> list[Any]:
    return [
        when,
        f"{n:032x}",
        f"{n:016x}",
        name,
        SERVICE,
        {"rum.sessionId": session, "service.name": SERVICE},
        attributes,
        scope,
        "Unset",
    ]


def rows() -> list[list[Any]]:
    out: list[list[Any]] = []
    for when, order, activity, operator in order_events():
        lob, vendor, _, _ = ORDERS[order]
        attributes = {"order.id": order, "order.lob": lob, **operator_attributes(operator)}
        if activity != "order.created":
            attributes |= {"vendor.id": vendor, "vendor.name": f"Vendor {vendor}"}
        if activity == "email.sent":
            attributes["email.template"] = "invoice"
        session = session_of(operator, when)
        out.append(_span(len(out) + 1, when, activity, session, attributes, "custom-action"))
    out.append(
        _span(
            len(out) + 1,
            INBOX_AT,
            "page.inbox",
            session_of("op-a", INBOX_AT),
            operator_attributes("op-a"),
            "custom-action",
        )
    )
    for session, minutes, span, path in PAGE_VIEWS:
        when = PAGES_START + timedelta(minutes=minutes)
        href = {"location.href": ORIGIN + path}
        out.append(_span(len(out) + 1, when, span, session, href, "route"))
    for when, session in RAGE:
        out.append(_span(len(out) + 1, when, "rage_click", session, {}, "exos-enrich"))
    return out


def load(store: Store) -> None:
    store.insert("otel_traces", rows(), COLUMNS)


@contextmanager
def served(chdb_path: Path, prefix: str) -> Iterator[TestClient]:
    """query-api over a database of its own holding this world."""
    store, settings = open_migrated_store(chdb_path, prefix)
    load(store)
    with TestClient(create_app(store=store)) as client:
        yield client
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()
