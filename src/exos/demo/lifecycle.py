"""The order lifecycle, played out: a small discrete-event simulation.

Each step of an order becomes a `Task` (a few domain events a minute or so apart) done
by one operator inside one of their sittings, one task at a time per operator: the
order's coordinator (a teammate when the owner cannot get to it within 4 h), the QC
reviewer who is free first, a team lead for cancellations. Vendors answer, inspect and
report after their own delays and inspect only `appointments_per_day` properties a day.
What comes out (queues, rework, waits) is what the process-mining views find.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from exos.demo.calendar import NS_PER_DAY, NS_PER_HOUR, NS_PER_MIN, NS_PER_MS, NS_PER_S, iso_ms
from exos.demo.model import SIGN_IN_NS, DomainEvent, Operator, Order, Task, World


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


Script = list[tuple[float, str, dict[str, str]]]  # (offset s, event name, extra attributes)


@dataclass(slots=True)
class Desk:
    op: Operator
    windows: list[tuple[int, int]]
    ends: list[int]
    free_at: int = 0


class Simulation:
    def __init__(self, rng: random.Random, world: World, desks: dict[str, Desk]) -> None:
        self.rng = rng
        self.world = world
        self.desks = desks
        self.tasks: list[Task] = []
        self._heap: list[tuple[int, int, str, int, int]] = []
        self._seq = 0
        self._steps: dict[str, Callable[[Order, int, int], None]] = {
            "intake": self._intake,
            "assign": self._assign,
            "accept": self._accept,
            "schedule": self._schedule,
            "inspected": self._inspected,
            "report_in": self._report_in,
            "review": self._review,
            "revision_in": self._revision_in,
            "close": self._close,
            "inquiry": self._inquiry,
            "cancel": self._cancel,
        }

    # -- plumbing --

    def push(self, earliest_ns: int, step: str, order_index: int, extra: int = 0) -> None:
        if earliest_ns < self.world.anchor_ns:
            self._seq += 1
            heapq.heappush(self._heap, (earliest_ns, self._seq, step, order_index, extra))

    def run(self) -> None:
        while self._heap:
            earliest, _, step, index, extra = heapq.heappop(self._heap)
            order = self.world.orders[index]
            if order.status != "open" and step not in ("intake",):
                continue
            self._steps[step](order, earliest, extra)

    def _slot(self, desk: Desk, earliest: int, duration: int) -> int | None:
        t = max(earliest, desk.free_at)
        i = bisect.bisect_right(desk.ends, t)
        while i < len(desk.windows):
            start_w, end_w = desk.windows[i]
            start = max(start_w + SIGN_IN_NS, t)
            if start + duration <= end_w:
                return start
            i += 1
        return None

    def _book(self, desk: Desk, start: int, duration: int) -> None:
        desk.free_at = start + duration + round(self.rng.uniform(20, 150) * NS_PER_S)

    def _pick(
        self, candidates: list[Desk], earliest: int, duration: int, owner: Desk | None = None
    ) -> tuple[Desk, int] | None:
        """The owner if they get to it within 4 h, else whoever gets to it first."""
        if owner is not None:
            start = self._slot(owner, earliest, duration)
            if start is not None and start - earliest <= 4 * NS_PER_HOUR:
                return owner, start
        best: tuple[Desk, int] | None = None
        for desk in candidates:
            start = self._slot(desk, earliest, duration)
            if start is not None and (best is None or start < best[1]):
                best = desk, start
        return best

    def _team(self, role: str, team: str | None = None) -> list[Desk]:
        return [
            d
            for d in self.desks.values()
            if d.op.role == role and (team is None or d.op.team == team)
        ]

    def _coordinate(
        self, order: Order, earliest: int, duration_s: float
    ) -> tuple[Desk, int] | None:
        duration = round(duration_s * NS_PER_S)
        owner = self.desks[order.coordinator]
        return self._pick(self._team("coordinator", owner.op.team), earliest, duration, owner)

    def _task(
        self, kind: str, order: Order, desk: Desk, start: int, duration_s: float, script: Script
    ) -> Task:
        duration = round(duration_s * NS_PER_S)
        self._book(desk, start, duration)
        base = order.attributes() + desk.op.attributes()
        events = []
        for offset_s, name, extra in script:
            attrs = desk.op.attributes() if name == "page.inbox" else base
            at = start + round(offset_s * NS_PER_S) + self.rng.randrange(NS_PER_MS)
            events.append(DomainEvent(at, name, attrs + tuple(extra.items())))
        task = Task(kind, desk.op.id, start, start + duration, order.id, events)
        self.tasks.append(task)
        return task

    def _duration(self, low_min: float, high_min: float) -> float:
        return self.rng.uniform(low_min, high_min) * 60

    # -- steps --

    def _intake(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(4, 7)
        picked = self._coordinate(order, earliest, d)
        if picked is None:
            return
        desk, start = picked
        inbound = {
            "email.template": "order_request",
            "email.direction": "inbound",
            "email.from": order.client,
        }
        task = self._task(
            "intake",
            order,
            desk,
            start,
            d,
            [
                (0, "page.inbox", {}),
                (2.5, "email.received", inbound),
                (self.rng.uniform(15, 35), "email.read", {"email.template": "order_request"}),
                (d * 0.55, "order.created", {}),
                (d * 0.55 + 2, "page.order_detail", {}),
                (d * 0.9, "action.update_status", {"order.status": "new"}),
            ],
        )
        index = self._index(order)
        gap = 10 if order.priority == "rush" else lognormal(self.rng, 40, 0.7)
        self.push(task.end_ns + round(gap * NS_PER_MIN), "assign", index)
        if self.rng.random() < 0.7:
            self.push(task.end_ns + round(self.rng.uniform(0.6, 5) * NS_PER_DAY), "inquiry", index)
        if self.rng.random() < 0.04:
            self.push(task.end_ns + round(self.rng.uniform(0.5, 3) * NS_PER_DAY), "cancel", index)

    def _assign(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(3, 6)
        picked = self._coordinate(order, earliest, d)
        if picked is None:
            return
        desk, start = picked
        vendors = self.world.vendors
        order.vendor = self.rng.choices(vendors, [v.share for v in vendors])[0]
        fee = str(
            self.rng.choice((425, 475, 525, 575, 650, 725))
            + (150 if order.lob == "construction" else 0)
        )
        task = self._task(
            "assign",
            order,
            desk,
            start,
            d,
            [
                (0, "page.order_detail", {}),
                (
                    d * 0.4,
                    "appraisal.assigned",
                    {"appraisal.fee": fee, "appraisal.form": "1004D" if order.desktop else "1004"},
                ),
                (d * 0.4 + 1.5, "action.assign_vendor", {}),
                (
                    d * 0.85,
                    "email.sent",
                    {
                        "email.template": "engagement_letter",
                        "email.direction": "outbound",
                        "email.to": order.vendor.name,
                    },
                ),
            ],
        )
        gap_h = lognormal(self.rng, order.vendor.response_h, 0.6)
        self.push(task.end_ns + round(gap_h * NS_PER_HOUR), "accept", self._index(order))

    def _accept(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(1, 2.5)
        picked = self._coordinate(order, earliest, d)
        if picked is None:
            return
        desk, start = picked
        task = self._task(
            "accept",
            order,
            desk,
            start,
            d,
            [
                (0, "page.inbox", {}),
                (
                    3,
                    "email.received",
                    {
                        "email.template": "vendor_acceptance",
                        "email.direction": "inbound",
                        "email.from": self._vendor_name(order),
                    },
                ),
                (d * 0.55, "email.read", {"email.template": "vendor_acceptance"}),
            ],
        )
        index = self._index(order)
        vendor = order.vendor
        if order.desktop and vendor is not None:
            gap_h = lognormal(self.rng, vendor.report_h + 8, 0.5)
            self.push(task.end_ns + round(gap_h * NS_PER_HOUR), "report_in", index)
        else:
            self.push(task.end_ns + round(self.rng.uniform(5, 40) * NS_PER_MIN), "schedule", index)

    def _schedule(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(3, 5)
        picked = self._coordinate(order, earliest, d)
        if picked is None or order.vendor is None:
            return
        desk, start = picked
        appointment = order.vendor.book(start + 2 * NS_PER_HOUR)
        order.waited_for_vendor_ns = appointment - start
        self._task(
            "schedule",
            order,
            desk,
            start,
            d,
            [
                (0, "page.scheduling", {}),
                (
                    d * 0.3,
                    "email.sent",
                    {
                        "email.template": "scheduling_confirmation",
                        "email.direction": "outbound",
                        "email.to": "borrower",
                    },
                ),
                (d * 0.6, "action.update_status", {"order.status": "scheduled"}),
                (d * 0.85, "inspection.scheduled", {"inspection.date": iso_ms(appointment)}),
            ],
        )
        after = appointment + round(self.rng.uniform(1, 4) * NS_PER_HOUR)
        self.push(after, "inspected", self._index(order))

    def _inspected(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(1, 2)
        picked = self._coordinate(order, earliest, d)
        if picked is None or order.vendor is None:
            return
        desk, start = picked
        task = self._task(
            "inspected",
            order,
            desk,
            start,
            d,
            [
                (0, "inspection.completed", {}),
                (d * 0.3, "page.scheduling", {}),
                (d * 0.6, "action.update_status", {"order.status": "inspected"}),
            ],
        )
        gap_h = lognormal(self.rng, order.vendor.report_h, 0.5)
        self.push(task.end_ns + round(gap_h * NS_PER_HOUR), "report_in", self._index(order))

    def _report_in(self, order: Order, earliest: int, _: int) -> None:
        self._report_arrives(order, earliest, "report_uploaded", "report_in")

    def _revision_in(self, order: Order, earliest: int, _: int) -> None:
        self._report_arrives(order, earliest, "revised_report", "revision_in")

    def _report_arrives(self, order: Order, earliest: int, template: str, kind: str) -> None:
        d = self._duration(2, 4)
        picked = self._coordinate(order, earliest, d)
        if picked is None:
            return
        desk, start = picked
        task = self._task(
            kind,
            order,
            desk,
            start,
            d,
            [
                (0, "page.inbox", {}),
                (
                    3,
                    "email.received",
                    {
                        "email.template": template,
                        "email.direction": "inbound",
                        "email.from": self._vendor_name(order),
                    },
                ),
                (d * 0.3, "email.read", {"email.template": template}),
                (d * 0.6, "page.documents", {}),
                (d * 0.9, "action.route_to_qc", {}),
            ],
        )
        index = self._index(order)
        if order.priority == "rush" and order.reviews == 0 and self.rng.random() < 0.35:
            self.push(task.end_ns + round(self.rng.uniform(5, 30) * NS_PER_MIN), "review", index, 1)
        else:
            self.push(task.end_ns, "review", index)

    def _review(self, order: Order, earliest: int, skip: int) -> None:
        if skip:  # a rush order submitted straight away by its coordinator: no QC review
            d = self._duration(3, 5)
            picked = self._coordinate(order, earliest, d)
            if picked is None:
                return
            desk, start = picked
            order.skipped_review = True
            task = self._task(
                "submit_unreviewed",
                order,
                desk,
                start,
                d,
                [
                    (0, "page.documents", {}),
                    (d * 0.6, "report.submitted", {"review.skipped": "true"}),
                    (
                        d * 0.9,
                        "email.sent",
                        {
                            "email.template": "report_delivery",
                            "email.direction": "outbound",
                            "email.to": order.client,
                        },
                    ),
                ],
            )
            self.push(
                task.end_ns + round(self.rng.uniform(15, 120) * NS_PER_MIN),
                "close",
                self._index(order),
            )
            return
        d = self._duration(18, 40)
        duration = round(d * NS_PER_S)
        picked = self._pick(self._team("qc_reviewer"), earliest, duration)
        if picked is None:
            return
        desk, start = picked
        order.reviews += 1
        round_ = {"review.round": str(order.reviews)}
        vendor = order.vendor
        rate = (vendor.rework_rate if vendor else 0.1) * (1.0 if order.reviews == 1 else 0.45)
        script: Script = [
            (0, "review.started", round_),
            (15, "page.documents", {}),
            (d * 0.5, "page.order_detail", {}),
        ]
        rework = order.reviews < 4 and self.rng.random() < rate
        if rework:
            reason = self.rng.choice(
                ("comparable sales", "missing photos", "GLA mismatch", "condition rating")
            )
            script += [
                (d - 70, "revision.requested", {**round_, "revision.reason": reason}),
                (
                    d - 12,
                    "email.sent",
                    {
                        "email.template": "revision_request",
                        "email.direction": "outbound",
                        "email.to": self._vendor_name(order),
                    },
                ),
            ]
        else:
            script += [
                (d - 60, "report.submitted", round_),
                (
                    d - 12,
                    "email.sent",
                    {
                        "email.template": "report_delivery",
                        "email.direction": "outbound",
                        "email.to": order.client,
                    },
                ),
            ]
        task = self._task("review", order, desk, start, d, script)
        index = self._index(order)
        if rework:
            order.rework_loops += 1
            self.push(
                task.end_ns + round(lognormal(self.rng, 5, 0.6) * NS_PER_HOUR),
                "revision_in",
                index,
            )
        else:
            self.push(task.end_ns + round(self.rng.uniform(15, 120) * NS_PER_MIN), "close", index)

    def _close(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(2, 4)
        picked = self._coordinate(order, earliest, d)
        if picked is None:
            return
        desk, start = picked
        script: Script = [
            (0, "page.order_detail", {}),
            (d * 0.5, "order.closed", {}),
            (d * 0.5 + 1.5, "action.update_status", {"order.status": "closed"}),
        ]
        if self.rng.random() < 0.4:
            script.append(
                (
                    d * 0.85,
                    "email.sent",
                    {
                        "email.template": "invoice",
                        "email.direction": "outbound",
                        "email.to": order.client,
                    },
                )
            )
        self._task("close", order, desk, start, d, script)
        order.status = "closed"

    def _inquiry(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(3, 5)
        picked = self._coordinate(order, earliest, d)
        if picked is None:
            return
        desk, start = picked
        self._task(
            "inquiry",
            order,
            desk,
            start,
            d,
            [
                (0, "page.inbox", {}),
                (
                    2.5,
                    "email.received",
                    {
                        "email.template": "status_inquiry",
                        "email.direction": "inbound",
                        "email.from": order.client,
                    },
                ),
                (d * 0.25, "email.read", {"email.template": "status_inquiry"}),
                (d * 0.45, "page.order_detail", {}),
                (
                    d * 0.85,
                    "email.sent",
                    {
                        "email.template": "status_update",
                        "email.direction": "outbound",
                        "email.to": order.client,
                    },
                ),
            ],
        )

    def _cancel(self, order: Order, earliest: int, _: int) -> None:
        d = self._duration(1, 3)
        leads = self._team("team_lead") or self._team(
            "coordinator", self.desks[order.coordinator].op.team
        )
        picked = self._pick(leads, earliest, round(d * NS_PER_S))
        if picked is None:
            return
        desk, start = picked
        reason = self.rng.choice(("loan withdrawn", "duplicate order", "borrower cancelled"))
        self._task(
            "cancel",
            order,
            desk,
            start,
            d,
            [
                (0, "page.order_detail", {}),
                (d * 0.6, "order.cancelled", {"cancel.reason": reason}),
                (d * 0.6 + 1.5, "action.update_status", {"order.status": "cancelled"}),
            ],
        )
        order.status = "cancelled"

    def _index(self, order: Order) -> int:
        return int(order.id.split("-")[1]) - 100001

    @staticmethod
    def _vendor_name(order: Order) -> str:
        return order.vendor.name if order.vendor else ""
