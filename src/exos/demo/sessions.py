"""Browser sessions of the operators, as the HyperDX browser SDK would send them.

A `SessionPlan` (one sitting of one operator, with the tasks of the scenario in it)
becomes the spans the SDK's instrumentations emit (research note hyperdx-contract.md,
section 3) and the rrweb recording of the same minutes:

- a page load: `documentLoad` with `documentFetch`/`resourceFetch` children, `record init`
  when the recorder starts (Meta + FullSnapshot), web vitals (one metric per span),
  long tasks, the app's first API calls;
- every domain event of a task as a custom action (`HyperDX.addAction`, scope
  `custom-action`) at the scenario's time, preceded by the gesture that caused it: a
  navigation (click, `routeChange`, content mutation), a button click (two identical
  `click` spans, like the real SDK; an immediate "busy" mutation; the `HTTP POST` as the
  click's child; a toast when it answers), typing (inputs), or nothing (an inbound e-mail
  arrives with the inbox poll);
- between tasks: the inbox poll, browsing, scrolling, long tasks, console output, the
  tab hidden and shown again;
- deliberate frustration: rage clicks (a burst of more than 4 clicks on one button
  within 2 s: the slow refresh button, or the report submit during the incident hour),
  dead clicks (a click on the export button or the SLA badge that changes nothing),
  quick backs (a view left again within a few seconds), excessive scrolling.

Identity: `user.email`, `user.name`, `user.uid` are global attributes from the moment the
app knows who is signed in (just after the page load); `visitor.*` are not set, enrich
fills them from the request's IP and User-Agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exos.demo import rrweb
from exos.demo.browser import (
    PAGE_EVENTS,
    ROUTE_SCOPE,
    VISIBILITY_SCOPE,
    Browser,
    Span,
)
from exos.demo.calendar import NS_PER_MIN, NS_PER_MS, NS_PER_S
from exos.demo.rrweb import LAYOUT, SCROLL, Route, route_for
from exos.demo.scenario import DomainEvent, SessionPlan, Task, World

# Which button does what (domain event -> (element, API path, typing lead in s)).
ACTION_BUTTONS: dict[str, tuple[str, str, float]] = {
    "order.created": ("btn-create-order", "/api/orders", 0),
    "appraisal.assigned": ("btn-assign-vendor", "/api/orders/{order}/vendor", 6),
    "action.route_to_qc": ("btn-route-qc", "/api/orders/{order}/qc", 0),
    "inspection.scheduled": ("btn-schedule-inspection", "/api/orders/{order}/inspection", 7),
    "inspection.completed": ("btn-mark-inspected", "/api/orders/{order}/inspection/complete", 0),
    "review.started": ("btn-start-review", "/api/reviews", 0),
    "revision.requested": ("btn-request-revision", "/api/reviews/{order}/revision", 20),
    "report.submitted": ("btn-submit-report", "/api/reports/submit", 0),
    "order.closed": ("btn-close-order", "/api/orders/{order}/close", 0),
    "order.cancelled": ("btn-cancel-order", "/api/orders/{order}/cancel", 0),
    "email.sent": ("btn-send-email", "/api/emails/send", 12),
}
# E-mails the portal sends by itself when the action before them succeeds.
AUTOMATIC_EMAILS = frozenset({"scheduling_confirmation", "report_delivery", "invoice"})
TYPED_EMAILS = frozenset({"status_update", "revision_request"})
# The field typed into before the button (select, date, text).
FIELDS = {
    "appraisal.assigned": "vendor-select",
    "inspection.scheduled": "inspection-date",
    "revision.requested": "revision-notes",
    "email.sent": "compose-body",
}
TABS = {
    "order_detail": "tab-detail",
    "order_scheduling": "tab-scheduling",
    "order_documents": "tab-documents",
}
BROWSE_ROUTES = ("orders", "dashboard", "scheduling")


@dataclass(slots=True)
class Frustration:
    """What the session was made to contain (what enrich should find)."""

    rage_clicks: int = 0
    dead_clicks: int = 0
    quick_backs: int = 0
    excessive_scrolls: int = 0


@dataclass(slots=True)
class RenderedSession:
    plan: SessionPlan
    resources: list[list[tuple[str, str]]]  # resource attributes per page load
    spans: list[Span]  # by start time
    rrweb_events: list[dict[str, Any]]  # by time, strictly increasing stamps
    frustration: Frustration
    dead_click_ns: list[int]  # the deliberately dead clicks
    live_click_ns: list[int]  # every other physical click (each followed by a DOM change)
    navigations: list[tuple[int, str]]  # (time, url) of documentLoad / routeChange


class _Renderer(Browser):
    """A session plan played out in a browser."""

    def __init__(self, world: World, plan: SessionPlan, big_snapshot: bool) -> None:
        super().__init__(plan, rrweb.report_preview(1_100_000) if big_snapshot else "")
        self.world = world
        self.frustration = Frustration()
        self.last_scroll_ns = 0
        self.email_rows = 0

    def _incident(self, at: int) -> bool:
        start, end = self.world.incident
        return start <= at < end

    def lead_s(self, event: DomainEvent) -> float:
        """How long before the event its gesture starts."""
        if event.name in PAGE_EVENTS:
            route = route_for(PAGE_EVENTS[event.name], event.order_id)
            same_order = self.route.order_id == route.order_id != "" and route.kind in TABS
            return 1.0 if route.kind == "inbox" or same_order else 6.0
        if event.name in ACTION_BUTTONS and self._manual(event):
            return ACTION_BUTTONS[event.name][2] + 4.0
        return 1.0

    @staticmethod
    def _manual(event: DomainEvent) -> bool:
        return (
            event.name != "email.sent"
            or dict(event.attributes).get("email.template") not in AUTOMATIC_EMAILS
        )

    def domain_event(self, event: DomainEvent, earliest: int) -> None:
        t = event.time_ns
        name = event.name
        if name in PAGE_EVENTS:
            route = route_for(PAGE_EVENTS[name], event.order_id)
            self._go(route, earliest, t)
            self.custom_action(event)
        elif name == "email.received":
            done = self.http(t - 250 * NS_PER_MS, "POST", "/api/inbox/poll", duration_ms=120)
            self.email_rows += 1
            self.custom_action(event)
            self.mutate(done + 15 * NS_PER_MS, self.dom.toast(f"New e-mail: {event.order_id}"))
            self.console(
                done + 5 * NS_PER_MS, "info", f"[inbox] 1 new message for {event.order_id}"
            )
        elif name == "email.read":
            row = f"email-row-{1 + self.email_rows % 8}" if self.dom.has("email-row-1") else None
            if row is None:  # not on the inbox: open it from the notification
                self.navigate(
                    t - 900 * NS_PER_MS, route_for("inbox"), "nav-inbox", page_event=False
                )
                row = "email-row-1"
            click_at = t - 300 * NS_PER_MS
            span = self.click(click_at, row)
            self.mutate(click_at + 40 * NS_PER_MS, self.dom.row_opened(row))
            self.http(
                click_at + 5 * NS_PER_MS,
                "POST",
                f"/api/emails/{event.order_id or 'x'}/read",
                parent=span,
                duration_ms=90,
            )
            self.custom_action(event)
        elif name in ACTION_BUTTONS and self._manual(event):
            self._button_action(event, earliest)
        else:  # recorded by the app itself (status changes, template e-mails)
            self.http(
                t - 180 * NS_PER_MS,
                "POST",
                "/api/audit",
                duration_ms=150,
                body=f'{{"action":"{name}"}}',
            )
            self.custom_action(event)

    def _go(self, route: Route, earliest: int, t: int) -> None:
        if self.route == route:
            return
        if route.kind == "inbox":
            self.navigate(t - 400 * NS_PER_MS, route, "nav-inbox", page_event=False)
        elif self.route.order_id == route.order_id and self.dom.has(TABS[route.kind]):
            self.navigate(t - 400 * NS_PER_MS, route, TABS[route.kind])
        elif t - earliest < 3 * NS_PER_S:  # e.g. right after creating it: the app opens it
            self.navigate(t - 400 * NS_PER_MS, route, None)
        else:  # search for the order; Enter opens the view
            start = max(earliest, t - 6 * NS_PER_S)
            self.type_into(start, t - 1500 * NS_PER_MS, "search")
            self.mutate(t - 1200 * NS_PER_MS, self.dom.search_results(route.order_id))
            self.http(
                t - 1300 * NS_PER_MS,
                "POST",
                "/api/search",
                duration_ms=90,
                body=f'{{"q":"{route.order_id}"}}',
            )
            self.navigate(t - 400 * NS_PER_MS, route, None)

    def _button_action(self, event: DomainEvent, earliest: int) -> None:
        rng = self.rng
        t = event.time_ns
        button, path_template, typing_s = ACTION_BUTTONS[event.name]
        path = path_template.format(order=event.order_id)
        slow = event.name == "report.submitted"
        duration_ms = rng.uniform(1200, 3800) if slow else rng.lognormvariate(5.4, 0.45)
        click_at = t - round((duration_ms + rng.uniform(20, 60)) * NS_PER_MS)
        if self._incident(t) and rng.random() < (0.9 if slow else 0.3):
            click_at = self._failed_attempts(button, path, click_at, rage=slow)
        typed = (
            event.name != "email.sent"
            or dict(event.attributes).get("email.template") in TYPED_EMAILS
        )
        if event.name in FIELDS and typed:
            start = max(earliest, click_at - round(typing_s * NS_PER_S))
            if click_at - start > NS_PER_S:
                self.type_into(start, click_at - 600 * NS_PER_MS, FIELDS[event.name])
        span = self.click(click_at, button)
        self.mutate(click_at + rng.randint(20, 60) * NS_PER_MS, self.dom.busy(button, True))
        status = 201 if event.name in ("order.created", "review.started") else 200
        body = f'{{"orderId":"{event.order_id}"}}'
        self.http(
            click_at + 4 * NS_PER_MS,
            "POST",
            path,
            parent=span,
            status=status,
            duration_ms=duration_ms,
            body=body,
        )
        self.custom_action(event)
        self.mutate(t + 20 * NS_PER_MS, self.dom.busy(button, False))
        self.mutate(t + 30 * NS_PER_MS, self.dom.toast(f"{event.name} {event.order_id}"))
        self.console(
            t + 10 * NS_PER_MS, "info", f"[api] POST {path} {status} in {round(duration_ms)} ms"
        )
        if duration_ms > 3000:
            self.console(
                t + 11 * NS_PER_MS,
                "warn",
                f"[perf] slow response POST {path} {round(duration_ms)} ms",
            )

    def _failed_attempts(self, button: str, path: str, click_at: int, *, rage: bool) -> int:
        """During the incident the API fails; the operator clicks again (and again).
        Returns when the successful click happens."""
        rng = self.rng
        attempts = rng.randint(5, 7) if rage else 1
        gaps = [round(rng.uniform(260, 330) * NS_PER_MS) for _ in range(attempts)]
        t = click_at - sum(gaps)
        for i, gap in enumerate(gaps):
            span = self.click(t, button)
            self.mutate(t + 25 * NS_PER_MS, self.dom.busy(button, i % 2 == 0))
            done = self.http(
                t + 3 * NS_PER_MS,
                "POST",
                path,
                parent=span,
                status=503,
                duration_ms=rng.uniform(60, 140),
            )
            if i == 0:
                self.console(done + NS_PER_MS, "warn", f"[api] POST {path} 503, retrying")
                self.error(
                    done + 2 * NS_PER_MS,
                    "console.error",
                    "Error",
                    f"Request failed: POST {path} 503 Service Unavailable",
                    f"Error: Request failed: POST {path} 503\n    at submit (app.js:4121:11)\n"
                    "    at HTMLButtonElement.onClick (app.js:2210:7)",
                )
            t += gap
        if rage:
            self.frustration.rage_clicks += 1
        return t

    # -- between tasks --

    def idle(self, start: int, end: int, extras: list[str]) -> None:
        """Fill [start, end) with what happens while nobody works on an order."""
        rng = self.rng
        if end - start < 20 * NS_PER_S:
            return
        hidden_from = hidden_to = end
        if end - start > 10 * NS_PER_MIN:
            hidden_from = start + round(rng.uniform(40, 150) * NS_PER_S)
            hidden_to = end - round(rng.uniform(8, 40) * NS_PER_S)
            self._span(VISIBILITY_SCOPE, "visibility", hidden_from, hidden_from, [("hidden", True)])
            self._span(VISIBILITY_SCOPE, "visibility", hidden_to, hidden_to, [("hidden", False)])
            if rng.random() < 0.3:
                self._vital(hidden_from + NS_PER_MS, "cls", round(rng.uniform(0.0, 0.25), 3))
        for a, b in ((start, hidden_from), (hidden_to, end)):
            self._busy_window(a + 3 * NS_PER_S, b - 3 * NS_PER_S, extras)

    def _busy_window(self, start: int, end: int, extras: list[str]) -> None:
        rng = self.rng
        t = start
        while t < end - 25 * NS_PER_S:
            roll = rng.random()
            if extras:
                t = self._frustrate(t, extras.pop(0))
            elif roll < 0.08:
                t = self._browse(t)
            elif roll < 0.28 and t - self.last_scroll_ns > 40 * NS_PER_S:
                t = self._scroll(t)
            elif roll < 0.32 and self.dom.has("order-row-1"):
                key = f"order-row-{rng.randint(1, 8)}"
                self.click(t, key)
                self.mutate(t + rng.randint(30, 90) * NS_PER_MS, self.dom.row_opened(key))
                t += 2 * NS_PER_S
            else:
                self._move_to(t // NS_PER_MS, rng.choice(list(LAYOUT)))
            if rng.random() < 0.15:
                self.longtask(t + NS_PER_S, rng.uniform(51, 140))
            t += round(rng.uniform(60, 180) * NS_PER_S)

    def _browse(self, t: int) -> int:
        kind = self.rng.choice(BROWSE_ROUTES)
        if self.route.kind == kind:
            return t
        self.navigate(t, route_for(kind), f"nav-{kind}")
        return t + 25 * NS_PER_S  # long enough on a view never to look like a quick back

    def _scroll(self, t: int, *, frantic: bool = False) -> int:
        rng = self.rng
        doc = self.dom.document_id
        positions = [rng.randint(300, 900), rng.randint(1000, 1600)]
        if frantic:
            top = rng.randint(1500, 1900)
            positions = [top, 200, top - 100, 150, top - 200, 100]
        elif rng.random() < 0.5:
            positions.append(0)
        ms = t // NS_PER_MS
        for y in positions:
            ms += rng.randint(500, 1500) if not frantic else rng.randint(700, 1400)
            self.recording.incremental(ms, {"source": SCROLL, "id": doc, "x": 0, "y": y})
        self.last_scroll_ns = ms * NS_PER_MS
        return ms * NS_PER_MS + NS_PER_S

    def _frustrate(self, t: int, what: str) -> int:
        rng = self.rng
        if what == "rage":
            key = "btn-refresh"
            at = t
            for i in range(rng.randint(6, 8)):
                at += round(rng.uniform(180, 320) * NS_PER_MS) if i else 0
                span = self.click(at, key)
                self.mutate(at + 30 * NS_PER_MS, self.dom.busy(key, i % 2 == 0))
                self.http(
                    at + 4 * NS_PER_MS,
                    "POST",
                    "/api/inbox/poll",
                    parent=span,
                    duration_ms=rng.uniform(900, 2500),
                )
            self.console(at + 5 * NS_PER_MS, "warn", "[inbox] refresh already in progress")
            self.frustration.rage_clicks += 1
            return at + 30 * NS_PER_S
        if what == "dead":
            key = rng.choice(("btn-export", "sla-badge"))
            self.click(t, key, dead=True)
            return t + 5 * NS_PER_S
        if what == "quick_back":
            here = self.route
            kind = next(k for k in BROWSE_ROUTES if k != here.kind)
            self.navigate(t, route_for(kind), f"nav-{kind}")
            back = t + round(rng.uniform(2.5, 9) * NS_PER_S)
            previous = self.route
            self.route = here
            self._span(
                ROUTE_SCOPE,
                "routeChange",
                back,
                back,
                [("component", "user-interaction"), ("prev.href", previous.url)],
            )
            self.navigations.append((back, here.url))
            self.mutate(back + 25 * NS_PER_MS, self.dom.navigate(here))
            self.frustration.quick_backs += 1
            return back + 25 * NS_PER_S
        if what == "scroll":
            self.frustration.excessive_scrolls += 1
            return self._scroll(t, frantic=True) + 35 * NS_PER_S
        raise ValueError(what)

    def background(self, start: int, end: int) -> None:
        """The inbox poll and its console chatter, all session long."""
        rng = self.rng
        t = start + round(rng.uniform(20, 60) * NS_PER_S)
        while t < end:
            incident = self._incident(t)
            status = 503 if incident and rng.random() < 0.3 else 200
            done = self.http(
                t,
                "POST",
                "/api/inbox/poll",
                status=status,
                duration_ms=rng.lognormvariate(4.6, 0.4),
                body='{"since":"cursor"}',
            )
            if rng.random() < 0.1:
                self.console(
                    done + NS_PER_MS, "debug", f"[poll] inbox ok, {rng.randint(0, 3)} unread"
                )
            if rng.random() < 0.25:
                self.http(
                    t + 2 * NS_PER_S,
                    "POST",
                    "/api/presence",
                    duration_ms=rng.uniform(30, 90),
                    body='{"state":"active"}',
                )
            if status == 503 and rng.random() < 0.5:
                self.error(
                    done + 2 * NS_PER_MS,
                    "onerror",
                    "TypeError",
                    "Cannot read properties of undefined (reading 'threads')",
                    "TypeError: Cannot read properties of undefined (reading 'threads')\n"
                    "    at renderInbox (inbox.js:88:23)\n    at poll (inbox.js:40:5)",
                )
            for _ in range(rng.choices((0, 1, 2, 3), (0.6, 0.25, 0.1, 0.05))[0]):
                self.longtask(done + rng.randrange(2 * NS_PER_S), rng.uniform(51, 160))
            t += round(rng.uniform(120, 240) * NS_PER_S)

    # -- the session --

    def run(self) -> RenderedSession:
        plan, rng = self.plan, self.rng
        tasks = sorted(plan.tasks, key=lambda task: task.start_ns)
        extras: list[str] = []
        for what, p in (
            ("dead", 0.3),
            ("quick_back", 0.12),
            ("rage", 0.05),
            ("dead", 0.1),
            ("scroll", 0.04),
        ):
            if rng.random() < p:
                extras.append(what)
        if self.dom.preview_text and tasks:
            first = route_for("order_documents", tasks[0].order_id)
        else:
            first = route_for("inbox" if rng.random() < 0.7 else "dashboard")
        cursor = self.load_page(plan.start_ns, first)
        self.background(cursor, plan.end_ns)
        reload_at = (
            plan.start_ns + round(rng.uniform(0.3, 0.8) * (plan.end_ns - plan.start_ns))
            if rng.random() < 0.2
            else None
        )
        for task in tasks:
            cursor = self._task(task, cursor, extras, reload_at)
            if reload_at is not None and cursor > reload_at:
                reload_at = None
        self.idle(cursor, plan.end_ns - 5 * NS_PER_S, extras)
        end = plan.end_ns - round(rng.uniform(0.5, 4) * NS_PER_S)
        if end > cursor:
            self._span(VISIBILITY_SCOPE, "visibility", end, end, [("hidden", True)])
        return self._finish()

    def _task(self, task: Task, cursor: int, extras: list[str], reload_at: int | None) -> int:
        events = sorted(task.events, key=lambda e: e.time_ns)
        if not events:
            return cursor
        lead = round(self.lead_s(events[0]) * NS_PER_S) + 2 * NS_PER_S
        idle_end = events[0].time_ns - lead
        if reload_at is not None and cursor < reload_at < idle_end - 30 * NS_PER_S:
            self.idle(cursor, reload_at, extras)
            cursor = self.load_page(reload_at, self.route) + 5 * NS_PER_S
        self.idle(cursor, idle_end, extras)
        previous = max(cursor, idle_end)
        for event in events:
            earliest = previous + 300 * NS_PER_MS
            self.domain_event(event, earliest)
            previous = event.time_ns
        return max(previous, task.end_ns) + NS_PER_S

    def _finish(self) -> RenderedSession:
        self.spans.sort(key=lambda s: s.start_ns)
        self.frustration.dead_clicks = len(self.dead_click_ns)
        return RenderedSession(
            plan=self.plan,
            resources=self.resources,
            spans=self.spans,
            rrweb_events=self.recording.finish(),
            frustration=self.frustration,
            dead_click_ns=self.dead_click_ns,
            live_click_ns=self.live_click_ns,
            navigations=sorted(self.navigations),
        )


def big_snapshot_session(world: World) -> int:
    """The session whose first snapshot carries a >950 KiB report preview (two chunks)."""
    return next((p.index for p in world.sessions if p.tasks), -1)


def render_session(world: World, plan: SessionPlan) -> RenderedSession:
    """Everything one session sends; deterministic for the plan's seed."""
    return _Renderer(world, plan, plan.index == big_snapshot_session(world)).run()
