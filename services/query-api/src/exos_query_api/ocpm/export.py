"""The event log as files for process-mining tools, streamed: OCEL 2.0 JSON (objects:
orders, vendors, operators; every domain event related to its order, vendor and
operator) and XES (one trace per order, for case-centric tools). Events are read by one
query in process_events' sort key order (order, time) and streamed block by block, so a
large export never sits in memory.

OCEL 2.0 JSON: https://www.ocel-standard.org/ (objectTypes, eventTypes, objects with
attributes and relationships, events with attributes and relationships). XES: IEEE
1849-2016 with the concept, time and org extensions.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextlib import closing
from datetime import datetime
from typing import Any
from xml.sax.saxutils import quoteattr

import orjson

from exos_query_api.categories import category_of
from exos_query_api.process.eventlog import (
    RANGE,
    ProcessFilters,
    bound,
    case_filter,
    without_categories,
)
from exos_query_api.runner import QueryRunner, RanQuery
from exos_query_api.timerange import TimeRange

CHUNK_BYTES = 256 * 1024  # what a download yields at a time
EPOCH = "1970-01-01T00:00:00Z"

# Keys of a span's attributes that are objects or their attributes, or the browser's,
# not the event's own.
_EVENT_KEYS = (
    "mapFilter((k, v) -> NOT (startsWith(k, 'order.') OR startsWith(k, 'vendor.') "
    "OR startsWith(k, 'operator.') OR startsWith(k, 'user.') OR startsWith(k, 'visitor.') "
    "OR k = 'location.href'), Attributes)"
)

EVENT_TYPES = f"""
SELECT Activity AS activity, arraySort(groupUniqArrayArray(mapKeys({_EVENT_KEYS}))) AS keys
FROM process_events
WHERE {RANGE}/*CASES*/
GROUP BY activity ORDER BY activity
"""
ORDER_OBJECTS = f"""
SELECT OrderId AS id, anyIf(Lob, Lob != '') AS lob, anyIf(Client, Client != '') AS client,
    anyIf(VendorId, VendorId != '') AS vendor_id
FROM process_events
WHERE OrderId != '' AND {RANGE}/*CASES*/
GROUP BY id ORDER BY id
"""
VENDOR_OBJECTS = f"""
SELECT VendorId AS id, anyIf(VendorName, VendorName != '') AS name
FROM process_events
WHERE VendorId != '' AND {RANGE}/*CASES*/
GROUP BY id ORDER BY id
"""
OPERATOR_OBJECTS = f"""
SELECT OperatorId AS id, anyIf(OperatorName, OperatorName != '') AS name,
    anyIf(OperatorRole, OperatorRole != '') AS role, anyIf(OperatorTeam, OperatorTeam != '') AS team
FROM process_events
WHERE OperatorId != '' AND {RANGE}/*CASES*/
GROUP BY id ORDER BY id
"""
# Every event, in the table's order (order, time): read in order, streamed in blocks.
EVENTS = f"""
SELECT OrderId AS order_id, Timestamp AS ts, SpanId AS span_id, Activity AS activity,
    VendorId AS vendor_id, OperatorId AS operator_id, SessionId AS session_id,
    {_EVENT_KEYS} AS attributes
FROM process_events
WHERE {RANGE}/*CASES*//*ORDERS*/
ORDER BY OrderId, Timestamp, SpanId
"""
EVENT_COLUMNS = (
    "order_id",
    "ts",
    "span_id",
    "activity",
    "vendor_id",
    "operator_id",
    "session_id",
    "attributes",
)


class EventLogExport:
    """The queries of an export, run as the file is streamed (kept by the runner)."""

    def __init__(self, runner: QueryRunner, window: TimeRange, filters: ProcessFilters) -> None:
        self.runner = runner
        self.window = window
        self.filters = without_categories(filters)

    def rows(self, sql: str, **parameters: Any) -> list[dict[str, Any]]:
        statement = sql.replace("/*CASES*/", case_filter(self.filters))
        return self.runner.rows(statement, bound(self.window, self.filters, **parameters))

    def events(self, orders_only: bool) -> Generator[dict[str, Any], None, None]:
        """Every event, streamed block by block (one query, never all in memory)."""
        sql = EVENTS.replace("/*CASES*/", case_filter(self.filters)).replace(
            "/*ORDERS*/", " AND OrderId != ''" if orders_only else ""
        )
        parameters = bound(self.window, self.filters)
        began = time.perf_counter()
        count = 0
        # The stream (and its chDB handle) is released when this generator ends or is
        # closed: whoever stops reading early must close it, not leave it to the GC.
        with self.runner.store.row_blocks(sql, parameters) as blocks:
            for block in blocks:
                count += len(block)
                for row in block:
                    yield dict(zip(EVENT_COLUMNS, row, strict=True))
        self.runner.ran.append(
            RanQuery(
                sql=sql.strip(),
                parameters=parameters,
                elapsed_ms=round((time.perf_counter() - began) * 1000, 3),
                rows=count,
            )
        )


def buffered(pieces: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """Join small pieces into chunks of about CHUNK_BYTES (one send per chunk)."""
    chunk = bytearray()
    with closing(pieces):  # closing this generator closes the export it reads
        for piece in pieces:
            chunk += piece
            if len(chunk) >= CHUNK_BYTES:
                yield bytes(chunk)
                chunk.clear()
    if chunk:
        yield bytes(chunk)


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def _attributes(values: dict[str, str], time: str | None = None) -> list[dict[str, str]]:
    out = []
    for name, value in values.items():
        entry = {"name": name, "value": value}
        if time is not None:
            entry["time"] = time
        out.append(entry)
    return out


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def ocel_json(export: EventLogExport) -> Generator[bytes, None, None]:
    """OCEL 2.0 JSON, piece by piece."""
    event_types = export.rows(EVENT_TYPES)
    orders = export.rows(ORDER_OBJECTS)
    vendors = export.rows(VENDOR_OBJECTS)
    operators = export.rows(OPERATOR_OBJECTS)
    string = "string"
    object_types = [
        {"name": "order", "attributes": [{"name": n, "type": string} for n in ("lob", "client")]},
        {"name": "vendor", "attributes": [{"name": "name", "type": string}]},
        {
            "name": "operator",
            "attributes": [{"name": n, "type": string} for n in ("name", "role", "team")],
        },
    ]
    yield b'{"objectTypes":' + _json(object_types) + b',"eventTypes":'
    yield _json(
        [
            {
                "name": t["activity"],
                "attributes": [
                    {"name": key, "type": string} for key in ("category", "session_id", *t["keys"])
                ],
            }
            for t in event_types
        ]
    )
    yield b',"objects":['
    first = True
    for kind, rows in (("order", orders), ("vendor", vendors), ("operator", operators)):
        for row in rows:
            attributes = {k: v for k, v in row.items() if k not in ("id", "vendor_id")}
            item: dict[str, Any] = {
                "id": _object_id(kind, row["id"]),
                "type": kind,
                "attributes": _attributes(attributes, EPOCH),
            }
            if kind == "order" and row["vendor_id"]:
                item["relationships"] = [
                    {"objectId": _object_id("vendor", row["vendor_id"]), "qualifier": "vendor"}
                ]
            yield (b"" if first else b",") + _json(item)
            first = False
    yield b'],"events":['
    first = True
    with closing(export.events(orders_only=False)) as events:
        for event in events:
            yield (b"" if first else b",") + _json(_ocel_event(event))
            first = False
    yield b"]}"


def _object_id(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def _ocel_event(event: dict[str, Any]) -> dict[str, Any]:
    relationships = [
        {"objectId": _object_id(kind, event[column]), "qualifier": kind}
        for kind, column in (
            ("order", "order_id"),
            ("vendor", "vendor_id"),
            ("operator", "operator_id"),
        )
        if event[column]
    ]
    attributes = {
        "category": category_of(event["activity"]),
        "session_id": event["session_id"],
        **event["attributes"],
    }
    return {
        "id": event["span_id"] or f"{event['order_id']}@{_time(event['ts'])}",
        "type": event["activity"],
        "time": _time(event["ts"]),
        "attributes": _attributes(attributes),
        "relationships": relationships,
    }


XES_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
<global scope="trace"><string key="concept:name" value="__INVALID__"/></global>
<global scope="event"><string key="concept:name" value="__INVALID__"/>
<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/></global>
<classifier name="Activity" keys="concept:name"/>
<string key="concept:name" value="EXOS orders"/>
"""


def _xes_string(key: str, value: str) -> str:
    return f"<string key={quoteattr(key)} value={quoteattr(value)}/>"


def xes(export: EventLogExport) -> Generator[bytes, None, None]:
    """XES: one trace per order (its LOB and client as trace attributes), one event per
    domain event (activity, time, operator as org:resource, session)."""
    orders = {row["id"]: row for row in export.rows(ORDER_OBJECTS)}
    yield XES_HEAD.encode()
    with closing(export.events(orders_only=True)) as events:
        yield from _xes_traces(events, orders)
    yield b"</log>\n"


def _xes_traces(events: Iterator[dict[str, Any]], orders: dict[str, Any]) -> Iterator[bytes]:
    current = None
    for event in events:
        order_id = event["order_id"]
        if order_id != current:
            if current is not None:
                yield b"</trace>\n"
            current = order_id
            order = orders.get(order_id, {})
            head = _xes_string("concept:name", order_id)
            for key in ("lob", "client"):
                if order.get(key):
                    head += _xes_string(key, order[key])
            yield f"<trace>{head}\n".encode()
        body = (
            _xes_string("concept:name", event["activity"])
            + f'<date key="time:timestamp" value="{_time(event["ts"])}"/>'
            + _xes_string("org:resource", event["operator_id"])
            + _xes_string("session_id", event["session_id"])
            + _xes_string("category", category_of(event["activity"]))
        )
        yield f"<event>{body}</event>\n".encode()
    if current is not None:
        yield b"</trace>\n"
