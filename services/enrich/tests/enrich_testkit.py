"""Builders for enrich tests: spans as the HyperDX SDK sends them, rrweb events as
replay chunks, a fake clock and fake geo. Times are milliseconds after `T0`."""

from __future__ import annotations

from typing import Any

import orjson

from exos_common.messages import ClientContext, LogRecord, ReplayChunk, SpanRecord
from exos_enrich.enricher import SessionEnricher
from exos_enrich.frustration.signals import SIGNAL_SCOPE
from exos_enrich.geo import GeoInfo, GeoLookup, NoGeo
from exos_enrich.settings import EnrichSettings
from exos_enrich.useragent import UserAgentParser

T0_MS = 1_700_000_000_000
SESSION = "4f1c9a2b7d3e4c5f8a9b0c1d2e3f4a5b"
PAGE = "https://exos-demo.com/orders.html"
BUTTON = "//html/body/div[2]/button[1]"
SERVICE = "clickstack-portal"
UA_PARSER = UserAgentParser()


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeGeo:
    def __init__(self, table: dict[str, GeoInfo] | None = None) -> None:
        self.table = table or {}

    def lookup(self, ip: str) -> GeoInfo:
        return self.table.get(ip, GeoInfo())


def settings(**overrides: Any) -> EnrichSettings:
    return EnrichSettings(**overrides)


def make_enricher(
    clock: FakeClock, geo: GeoLookup | None = None, **overrides: Any
) -> SessionEnricher:
    return SessionEnricher(settings(**overrides), geo or NoGeo(), UA_PARSER, clock=clock)


def ns(ms: float) -> int:
    return round((T0_MS + ms) * 1_000_000)


def span(
    name: str,
    at_ms: float,
    *,
    session: str = SESSION,
    attributes: dict[str, str] | None = None,
    scope: str = "",
    client: ClientContext | None = None,
    resource: dict[str, str] | None = None,
    span_id: str = "00f067aa0ba902b7",
) -> SpanRecord:
    return SpanRecord(
        session_id=session,
        timestamp_ns=ns(at_ms),
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id=span_id,
        name=name,
        service_name=SERVICE,
        resource_attributes=resource
        if resource is not None
        else {"rum.sessionId": session, "service.name": SERVICE},
        scope_name=scope,
        attributes=dict(attributes or {}),
        client=client or ClientContext(),
    )


def click(
    at_ms: float,
    *,
    xpath: str = BUTTON,
    element: str = "BUTTON",
    session: str = SESSION,
    page: str = PAGE,
) -> list[SpanRecord]:
    """One physical click as the real SDK sends it: two identical `click` spans."""
    attrs = {
        "event_type": "click",
        "target_element": element,
        "target_xpath": xpath,
        "http.url": page,
        "location.href": page,
        "component": "user-interaction",
    }
    scope = "@opentelemetry/instrumentation-user-interaction"
    return [
        span("click", at_ms, session=session, attributes=attrs, scope=scope, span_id=sid)
        for sid in ("a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2")
    ]


def client_signal(name: str, at_ms: float, session: str = SESSION, **attributes: str) -> SpanRecord:
    """What `HyperDX.addAction(name, attributes)` sends."""
    attrs = {"location.href": PAGE, **attributes}
    return span(name, at_ms, session=session, attributes=attrs, scope="custom-action")


def navigation(kind: str, at_ms: float, url: str, prev: str = "") -> SpanRecord:
    attrs = {"location.href": url}
    if kind == "documentLoad":
        attrs |= {"http.url": url, "component": "document-load"}
    else:
        attrs |= {"prev.href": prev, "component": "user-interaction"}
    return span(kind, at_ms, attributes=attrs, scope="route" if kind == "routeChange" else "")


def rrweb(event: dict[str, Any]) -> str:
    """An rrweb event as the recorder serialises it: type, data, timestamp in order."""
    ordered = {"type": event["type"], "data": event["data"], "timestamp": event["timestamp"]}
    return orjson.dumps(ordered).decode()


def replay(
    event_type: int,
    at_ms: float,
    data: dict[str, Any],
    *,
    ordinal: int = 1,
    session: str = SESSION,
    chunks: int = 1,
) -> list[ReplayChunk]:
    """One rrweb event as replay chunks (split in `chunks` slices like the recorder)."""
    body = rrweb({"type": event_type, "data": data, "timestamp": T0_MS + at_ms})
    size = -(-len(body) // chunks)
    slices = [body[i * size : (i + 1) * size] for i in range(chunks)]
    return [
        ReplayChunk(
            session_id=session,
            timestamp_ns=ns(at_ms),
            service_name=SERVICE,
            body=part,
            resource_attributes={"rum.sessionId": session, "service.name": SERVICE},
            scope_name="rum.rr-web",
            attributes={
                "rr-web.offset": str(ordinal * 10 + index),
                "rr-web.event": str(ordinal),
                "rr-web.chunk": str(index + 1),
                "rr-web.total-chunks": str(chunks),
            },
        )
        for index, part in enumerate(slices)
    ]


def meta(at_ms: float, href: str = PAGE, height: int = 800, **kw: Any) -> list[ReplayChunk]:
    return replay(4, at_ms, {"href": href, "width": 1280, "height": height}, **kw)


def full_snapshot(at_ms: float, top: int = 0, padding: int = 0, **kw: Any) -> list[ReplayChunk]:
    node = {
        "type": 0,
        "childNodes": [
            {
                "type": 2,
                "tagName": "html",
                "attributes": {"data-x": "y" * padding},
                "childNodes": [],
                "id": 2,
            }
        ],
        "compatMode": "CSS1Compat",
        "id": 1,
    }
    return replay(2, at_ms, {"node": node, "initialOffset": {"left": 0, "top": top}}, **kw)


def mutation(at_ms: float, padding: int = 0, **kw: Any) -> list[ReplayChunk]:
    data = {
        "source": 0,
        "texts": [],
        "attributes": [{"id": 42, "attributes": {"class": "open" + "x" * padding}}],
        "removes": [],
        "adds": [],
    }
    return replay(3, at_ms, data, **kw)


def mouse_move(at_ms: float, **kw: Any) -> list[ReplayChunk]:
    return replay(
        3, at_ms, {"source": 1, "positions": [{"x": 5, "y": 5, "id": 9, "timeOffset": 0}]}, **kw
    )


def scroll(at_ms: float, y: int, node: int = 1, **kw: Any) -> list[ReplayChunk]:
    return replay(3, at_ms, {"source": 3, "id": node, "x": 0, "y": y}, **kw)


def log(at_ms: float, session: str = SESSION, body: str = "hello") -> LogRecord:
    return LogRecord(session_id=session, timestamp_ns=ns(at_ms), service_name=SERVICE, body=body)


def feed(enricher: SessionEnricher, *batches: Any) -> list[SpanRecord | LogRecord]:
    """Process records (lists of records flattened) and collect everything published."""
    out: list[SpanRecord | LogRecord] = []
    for batch in batches:
        for record in batch if isinstance(batch, list) else [batch]:
            out += enricher.process(record)
    return out


def signals(records: list[Any], name: str | None = None) -> list[SpanRecord]:
    return [
        r
        for r in records
        if isinstance(r, SpanRecord)
        and r.scope_name == SIGNAL_SCOPE
        and (name is None or r.name == name)
    ]


def settle(enricher: SessionEnricher, clock: FakeClock, seconds: float = 16.0) -> list[SpanRecord]:
    clock.advance(seconds)
    return enricher.flush_expired()


def typical_session(session: str) -> list[Any]:
    """A browsing session's records: visitor, sign-in, replay, 30 clicks with mutations,
    mouse moves and scrolls."""
    client = ClientContext(ip="73.162.10.20", user_agent="Mozilla/5.0 Chrome/122.0.0.0")
    records: list[Any] = [
        span("documentLoad", 0, session=session, client=client),
        navigation("documentLoad", 0, "https://exos-demo.com/a.html"),
        span("signin", 10, session=session, attributes={"user.email": "ann@example.com"}),
        *meta(0, session=session),
        *full_snapshot(1, session=session),
    ]
    for i in range(30):
        records += click(1_000 * i, session=session, xpath=f"//button[{i % 5}]")
        records += mutation(1_000 * i + 100, session=session)
        records += mouse_move(1_000 * i + 600, session=session)
        records += scroll(1_000 * i + 700, y=50 * i, session=session)
    for record in records:
        record.session_id = session
        record.resource_attributes["rum.sessionId"] = session
    return records
