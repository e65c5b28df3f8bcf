"""The HyperDX browser SDK in a tab of the appraisal portal: what each instrumentation
emits (research note hyperdx-contract.md, section 3; browser-sdk-observed.md) and what
the session recorder captures (rrweb), for the gestures `exos.demo.sessions` plays.

Spans carry the SDK's scopes and attributes: `click` twice per physical click (same
start, same `target_xpath`), `routeChange` with `prev.href`, `documentLoad` with its
`documentFetch`/`resourceFetch` children, `HTTP <METHOD>` with the fetch
instrumentation's `http.*` attributes and advancedNetworkCapture's headers and body,
`longtask`, `webvitals` (one metric per span), `visibility`, `record init`,
`console.*` (`component: console`), errors (`component: error`), custom actions (scope
`custom-action`). Every span gets `location.href` and, once the app knows who signed in,
the global attributes `user.email`, `user.name`, `user.uid`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from exos.demo.calendar import NS_PER_MS
from exos.demo.people import PORTAL_ORIGIN, SERVICE_NAME
from exos.demo.rrweb import (
    CLICK,
    FULL_SNAPSHOT,
    INPUT,
    LAYOUT,
    META,
    MOUSE_DOWN,
    MOUSE_INTERACTION,
    MOUSE_MOVE,
    MOUSE_UP,
    TAGS,
    VIEWPORT,
    PortalDom,
    Recording,
    Route,
    route_for,
    xpath_of,
)
from exos.demo.scenario import DomainEvent, SessionPlan

SDK_VERSION = "0.19.0"  # @hyperdx/otel-web
RECORDER_VERSION = "3.0.0"  # @hyperdx/otel-web-session-recorder
INTERACTION_SCOPE = ("@opentelemetry/instrumentation-user-interaction", "0.62.0")
DOCUMENT_SCOPE = ("@opentelemetry/instrumentation-document-load", "0.63.0")
FETCH_SCOPE = ("@opentelemetry/instrumentation-fetch", "0.219.0")
ROUTE_SCOPE = ("route", "")
LONGTASK_SCOPE = ("browser-longtask", "")
WEBVITALS_SCOPE = ("webvitals", "")
VISIBILITY_SCOPE = ("page-visibility", "")
RECORDER_SCOPE = ("rum.rr-web", RECORDER_VERSION)
CONSOLE_SCOPE = ("console", "")
ERRORS_SCOPE = ("errors", "")
ACTION_SCOPE = ("custom-action", "")
POST_LOAD_SCOPE = ("post-doc-load-resource", "")
INTERNAL, CLIENT = 1, 3
STATUS_UNSET, STATUS_ERROR = 0, 2

AttrValue = str | int | float | bool | list[str]

PAGE_EVENTS = {
    "page.inbox": "inbox",
    "page.order_detail": "order_detail",
    "page.scheduling": "order_scheduling",
    "page.documents": "order_documents",
}
GRAPHQL_OPERATIONS = (
    "OrderDetail",
    "OrderTimeline",
    "VendorDirectory",
    "InboxThreads",
    "TeamQueue",
    "DocumentList",
)


@dataclass(slots=True)
class Span:
    scope: tuple[str, str]
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: list[tuple[str, AttrValue]]
    load: int  # which page load (resource) the span belongs to
    status: int = STATUS_UNSET
    status_message: str = ""
    events: list[tuple[int, str, list[tuple[str, AttrValue]]]] = field(default_factory=list)


class Browser:
    """One browser tab of one session: the SDK's instrumentations and the recorder,
    driven by the methods below (each returns or takes absolute ns times)."""

    def __init__(self, plan: SessionPlan, preview_text: str = "") -> None:
        self.plan = plan
        self.op = plan.operator
        self.rng = random.Random(plan.seed)
        self.spans: list[Span] = []
        self.resources: list[list[tuple[str, str]]] = []  # one resource per page load
        self.recording = Recording()
        self.dom = PortalDom(self.op.name, preview_text)
        self.route = route_for("inbox")
        self.identified_ns = 1 << 62  # user.* are global attributes from here on
        self.dead_click_ns: list[int] = []
        self.live_click_ns: list[int] = []
        self.navigations: list[tuple[int, str]] = []
        self.mouse = (720, 450)
        self.first_input_done = False

    # -- ids and attributes --

    def _hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def _globals(self, at: int) -> list[tuple[str, AttrValue]]:
        attrs: list[tuple[str, AttrValue]] = [("location.href", self.route.url)]
        if at >= self.identified_ns:
            attrs += [
                ("user.email", self.op.email),
                ("user.name", self.op.name),
                ("user.uid", self.op.uid),
            ]
        return attrs

    def _span(
        self,
        scope: tuple[str, str],
        name: str,
        start: int,
        end: int,
        attrs: list[tuple[str, AttrValue]],
        *,
        kind: int = INTERNAL,
        parent: Span | None = None,
        status: int = STATUS_UNSET,
        message: str = "",
    ) -> Span:
        span = Span(
            scope=scope,
            name=name,
            trace_id=parent.trace_id if parent else self._hex(128),
            span_id=self._hex(64),
            parent_id=parent.span_id if parent else "",
            kind=kind,
            start_ns=start,
            end_ns=max(start, end),
            attributes=attrs + self._globals(start),
            load=len(self.resources) - 1,
            status=status,
            status_message=message,
        )
        self.spans.append(span)
        return span

    # -- page loads --

    def load_page(self, at: int, route: Route) -> int:
        """A full page load at `at`; returns when the app is ready (recording started)."""
        self.route = route
        self.resources.append(
            [
                ("browser.language", self.op.seat.language),
                ("hyperdx.browser.timezone", self.op.seat.timezone),
                ("telemetry.sdk.language", "webjs"),
                ("telemetry.sdk.name", "@hyperdx/otel-web"),
                ("telemetry.sdk.version", SDK_VERSION),
                ("process.runtime.name", "browser"),
                ("service.name", SERVICE_NAME),
                ("rum.version", SDK_VERSION),
                ("rum.scriptInstance", self._hex(64)),
                ("rum.sessionId", self.plan.session_id),
            ]
        )
        self.identified_ns = 1 << 62
        rng = self.rng
        load_ms = rng.lognormvariate(7.0, 0.35)  # ~1.1 s median
        end = at + round(load_ms * NS_PER_MS)
        doc = self._span(
            DOCUMENT_SCOPE,
            "documentLoad",
            at,
            end,
            [
                ("component", "document-load"),
                ("http.url", route.url),
                ("http.user_agent", self.op.seat.user_agent),
                ("document.referrer", "" if self.resources[1:] else f"{PORTAL_ORIGIN}/login"),
                ("screen.xy", f"{VIEWPORT[0]}x{VIEWPORT[1]}"),
            ],
        )
        marks = (
            "fetchStart",
            "responseEnd",
            "domInteractive",
            "domContentLoadedEventEnd",
            "loadEventEnd",
        )
        doc.events = [
            (at + round(load_ms * NS_PER_MS * (i + 1) / 6), m, []) for i, m in enumerate(marks)
        ]
        fetch_end = at + round(load_ms * 0.25 * NS_PER_MS)
        self._span(
            DOCUMENT_SCOPE,
            "documentFetch",
            at,
            fetch_end,
            [("component", "document-load"), ("http.url", route.url), ("http.method", "GET")],
            parent=doc,
        )
        assets = [
            "/assets/app.js",
            "/assets/vendor.js",
            "/assets/app.css",
            "/assets/fonts/inter.woff2",
            "/assets/logo.svg",
            "/config.json",
        ]
        assets += [f"/assets/chunk-{rng.getrandbits(24):06x}.js" for _ in range(rng.randint(2, 6))]
        for asset in assets:
            s = fetch_end + rng.randrange(round(load_ms * 0.6 * NS_PER_MS))
            self._span(
                DOCUMENT_SCOPE,
                "resourceFetch",
                s,
                s + round(rng.uniform(8, 180) * NS_PER_MS),
                [
                    ("component", "document-load"),
                    ("http.url", PORTAL_ORIGIN + asset),
                    ("http.method", "GET"),
                ],
                parent=doc,
            )
        for _ in range(rng.randint(3, 7)):
            self.longtask(at + rng.randrange(round(load_ms * NS_PER_MS)), rng.uniform(55, 260))
        self._vital(
            end + rng.randrange(5 * NS_PER_MS), "lcp", round(load_ms * rng.uniform(0.8, 1.6), 1)
        )
        if rng.random() < 0.3:
            self._vital(end + 2 * NS_PER_MS, "ttfb", round(load_ms * rng.uniform(0.1, 0.3), 1))
        if rng.random() < 0.3:
            self._vital(end + 3 * NS_PER_MS, "fcp", round(load_ms * rng.uniform(0.5, 0.8), 1))
        # The recorder starts once otel-web is up: record init, Meta, FullSnapshot.
        ready = end + round(rng.uniform(20, 80) * NS_PER_MS)
        self._span(RECORDER_SCOPE, "record init", ready, ready, [])
        ms = ready // NS_PER_MS
        self.recording.add(
            ms, META, {"href": route.url, "width": VIEWPORT[0], "height": VIEWPORT[1]}
        )
        self.recording.add(ms + 1, FULL_SNAPSHOT, self.dom.full_snapshot(route))
        self.dom.drop_preview()  # only the first snapshot carries the big preview
        self.navigations.append((at, route.url))
        # Sign-in state resolves, the app loads its data.
        self.identified_ns = ready + round(rng.uniform(150, 600) * NS_PER_MS)
        t = self.identified_ns + 5 * NS_PER_MS
        for path in ("/api/me", "/api/config", f"/api/{route.kind.split('_')[0]}"):
            t = self.http(t, "GET", path) + rng.randrange(30 * NS_PER_MS)
        self.console(t, "info", f"appraisal-portal 3.12.0 ready ({self.op.id})")
        self.console(t + NS_PER_MS, "debug", f"[router] initial route {route.path}")
        if route.kind in PAGE_EVENTS.values():
            self._page_event(t + 2 * NS_PER_MS, route)
        return t + 10 * NS_PER_MS

    def _vital(self, at: int, metric: str, value: float) -> None:
        self._span(
            WEBVITALS_SCOPE,
            "webvitals",
            at,
            at,
            [
                (metric, value),
                ("webvitals.navigation_type", "navigate"),
                ("webvitals.metric_id", f"v3-{at // NS_PER_MS}-{self.rng.getrandbits(40):013d}"),
            ],
        )

    # -- small instruments --

    def longtask(self, at: int, duration_ms: float) -> None:
        self._span(
            LONGTASK_SCOPE,
            "longtask",
            at,
            at + round(duration_ms * NS_PER_MS),
            [
                ("component", "browser-longtask"),
                ("longtask.name", "self"),
                ("longtask.entry_type", "longtask"),
                ("longtask.duration", round(duration_ms, 1)),
                ("longtask.attribution.name", "unknown"),
                ("longtask.attribution.entry_type", "taskattribution"),
                ("longtask.attribution.container_type", "window"),
            ],
        )

    def console(self, at: int, level: str, message: str) -> None:
        self._span(
            CONSOLE_SCOPE,
            f"console.{'log' if level == 'info' else level}",
            at,
            at,
            [("component", "console"), ("level", level), ("message", message)],
        )

    def error(self, at: int, name: str, kind: str, message: str, stack: str) -> None:
        span = self._span(
            ERRORS_SCOPE,
            name,
            at,
            at,
            [
                ("component", "error"),
                ("error", True),
                ("error.object", kind),
                ("error.message", message),
                ("error.stack", stack),
            ],
            status=STATUS_ERROR,
            message=message,
        )
        span.events = [
            (at, "exception", [("exception.type", kind), ("exception.message", message)])
        ]

    def http(
        self,
        at: int,
        method: str,
        path: str,
        *,
        parent: Span | None = None,
        status: int = 200,
        duration_ms: float | None = None,
        body: str = "",
    ) -> int:
        """An instrumented fetch; returns when it answered."""
        rng = self.rng
        if duration_ms is None:
            duration_ms = rng.lognormvariate(5.2, 0.5)  # ~180 ms median
        end = at + round(duration_ms * NS_PER_MS)
        texts = {
            200: "OK",
            201: "Created",
            204: "No Content",
            409: "Conflict",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }
        attrs: list[tuple[str, AttrValue]] = [
            ("http.method", method),
            ("http.url", PORTAL_ORIGIN + path),
            ("http.status_code", status),
            ("http.status_text", texts.get(status, "")),
            ("http.host", PORTAL_ORIGIN.removeprefix("https://")),
            ("http.scheme", "https"),
            ("http.user_agent", self.op.seat.user_agent),
            ("http.response_content_length", rng.randint(120, 9000) if status < 300 else 96),
            ("component", "fetch"),
            ("http.response.header.content_type", ["application/json; charset=utf-8"]),
        ]
        if method == "POST":
            attrs += [
                ("http.request.header.content_type", ["application/json"]),
                ("http.request.body", body or "{}"),
            ]
        self._span(FETCH_SCOPE, f"HTTP {method}", at, end, attrs, kind=CLIENT, parent=parent)
        return end

    # -- interactions --

    def _move_to(self, at_ms: int, key: str) -> None:
        x, y = LAYOUT.get(key, (720, 450))
        x0, y0 = self.mouse
        steps = self.rng.randint(2, 4)
        positions = []
        for i in range(1, steps + 1):
            positions.append(
                {
                    "x": x0 + (x - x0) * i // steps,
                    "y": y0 + (y - y0) * i // steps,
                    "id": self.dom.ids.get(key, self.dom.main_id),
                    "timeOffset": -(steps - i) * 60,
                }
            )
        self.recording.incremental(at_ms, {"source": MOUSE_MOVE, "positions": positions})
        self.mouse = (x, y)

    def click(self, at: int, key: str, *, dead: bool = False) -> Span:
        """A physical click at `at` on element `key`: the SDK's two identical spans and
        rrweb's mouse events; the app's reaction (mutation) is up to the caller, except
        for a dead click, which gets none (and a mouse move after the window, so the
        replay moves past it)."""
        rng = self.rng
        tag = TAGS[key].upper()
        ms = at // NS_PER_MS
        node_id = self.dom.ids[key]
        x, y = LAYOUT[key]
        self._move_to(ms - rng.randint(250, 700), key)
        self.recording.incremental(
            ms - rng.randint(70, 120),
            {"source": MOUSE_INTERACTION, "type": MOUSE_DOWN, "id": node_id, "x": x, "y": y},
        )
        self.recording.incremental(
            ms - rng.randint(2, 12),
            {"source": MOUSE_INTERACTION, "type": MOUSE_UP, "id": node_id, "x": x, "y": y},
        )
        self.recording.incremental(
            ms, {"source": MOUSE_INTERACTION, "type": CLICK, "id": node_id, "x": x, "y": y}
        )
        attrs: list[tuple[str, AttrValue]] = [
            ("event_type", "click"),
            ("target_element", tag),
            ("target_xpath", xpath_of(key)),
            ("http.url", self.route.url),
            ("component", "user-interaction"),
        ]
        end = at + round(rng.uniform(1, 6) * NS_PER_MS)
        first = self._span(INTERACTION_SCOPE, "click", at, end, list(attrs))
        self._span(INTERACTION_SCOPE, "click", at, end, list(attrs))
        if rng.random() < 0.25:
            for name, offset in (("mousedown", 90), ("mouseup", 8)):
                t = at - offset * NS_PER_MS
                self._span(
                    INTERACTION_SCOPE,
                    name,
                    t,
                    t + NS_PER_MS,
                    [(k, name if k == "event_type" else v) for k, v in attrs],
                )
        if not self.first_input_done:
            self.first_input_done = True
            self._vital(
                at + 5 * NS_PER_MS,
                "fid" if rng.random() < 0.7 else "inp",
                round(rng.uniform(2, 40), 1),
            )
        if dead:
            self.dead_click_ns.append(at)
            self.recording.incremental(
                ms + rng.randint(650, 1500),
                {
                    "source": MOUSE_MOVE,
                    "positions": [{"x": x + 40, "y": y + 25, "id": node_id, "timeOffset": 0}],
                },
            )
        elif tag not in ("INPUT", "TEXTAREA", "SELECT"):
            self.live_click_ns.append(at)
        return first

    def mutate(self, at: int, data: dict[str, Any]) -> None:
        self.recording.incremental(at // NS_PER_MS, data)

    def type_into(self, start: int, end: int, key: str) -> None:
        """Click a text field (selects and dates are reached with the keyboard) and type
        until `end` (inputs are masked: maskAllInputs)."""
        if TAGS[key] != "select" and key != "inspection-date":
            self.click(start, key)
        node_id = self.dom.ids[key]
        span_ms = max(1, (end - start) // NS_PER_MS)
        n = 1 if TAGS[key] == "select" else max(2, min(6, span_ms // 1500))
        for i in range(1, n + 1):
            text = "*" * (i * self.rng.randint(3, 7)) if TAGS[key] != "select" else "*"
            self.recording.incremental(
                start // NS_PER_MS + span_ms * i // (n + 1),
                {"source": INPUT, "text": text, "isChecked": False, "id": node_id},
            )

    def navigate(self, at: int, route: Route, via: str | None, *, page_event: bool = True) -> int:
        """Click `via` at `at` (None: the app navigates by itself), the SPA routes to
        `route`; returns the routeChange time."""
        if via is not None:
            self.click(at, via)
        t = at + round(self.rng.uniform(15, 40) * NS_PER_MS)
        previous = self.route
        self.route = route
        self._span(
            ROUTE_SCOPE,
            "routeChange",
            t,
            t,
            [("component", "user-interaction"), ("prev.href", previous.url)],
        )
        self.navigations.append((t, route.url))
        self.mutate(t + 25 * NS_PER_MS, self.dom.navigate(route))
        done = self.http(
            t + 10 * NS_PER_MS,
            "POST",
            "/api/graphql",
            body=f'{{"operationName":"{self.rng.choice(GRAPHQL_OPERATIONS)}"}}',
        )
        if route.order_id:
            done = max(done, self.http(t + 12 * NS_PER_MS, "GET", f"/api/orders/{route.order_id}"))
        if self.rng.random() < 0.6:
            self.longtask(t + 30 * NS_PER_MS, self.rng.uniform(52, 190))
        if self.rng.random() < 0.5:
            self.console(t + 2 * NS_PER_MS, "debug", f"[router] {previous.path} -> {route.path}")
        if route.order_id:
            self.console(done + NS_PER_MS, "info", f"[orders] loaded {route.order_id}")
        if page_event and route.kind == "inbox":
            self._page_event(t + 60 * NS_PER_MS, route)
        return t

    def _page_event(self, at: int, route: Route) -> None:
        name = next(k for k, v in PAGE_EVENTS.items() if v == route.kind)
        attrs = tuple((k, v) for k, v in self.op.attributes())
        self._span(ACTION_SCOPE, name, at, at, list(attrs))

    def custom_action(self, event: DomainEvent) -> None:
        self._span(ACTION_SCOPE, event.name, event.time_ns, event.time_ns, list(event.attributes))

    # -- domain events --
