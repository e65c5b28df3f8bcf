"""The demo world, pure and deterministic: an appraisal-management operations team and
the orders it works over the last 14 days.

Coordinators take orders from lenders, assign them to appraisal firms (vendors, shared
between orders), schedule inspections and receive reports; QC reviewers review the
reports and either submit them to the lender or send them back for revision; team leads
cancel what must be cancelled. A small discrete-event simulation plays it out: every
operator works their own office hours in a few sittings (one browser session each), does
one task at a time, and a vendor inspects only so many properties a day. What the
process-mining views should find is therefore caused, not painted on:

- the happy path (`HAPPY_PATH`, the conformance view's default) is how most orders run;
  desktop appraisals skip the inspection, a few rush orders skip QC review, a few
  orders are cancelled, recent ones are still open;
- rework loops: `review.started -> revision.requested -> ... -> review.started`, far more
  often for the two sloppy vendors (`Vendor.rework_rate`);
- the bottleneck is the QC queue (`BOTTLENECK`: report received -> review started):
  five reviewers for the whole team, so reports wait hours, days after the spike;
- vendor contention: the two most popular firms have fewer inspection slots than orders
  (`Vendor.contended`), so many orders wait on one vendor at once;
- anomalies: a refinance surge (`World.spike_day`, ~2.6x the usual intake) and an
  incident hour (`World.incident`) of failing API calls, errors and rage clicks.

Every domain event carries the attributes the seed's SQL reads: `order.id` (and
`order.lob`, `vendor.id`, ...) and `operator.*`.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from exos.demo import people
from exos.demo.calendar import (
    COMPANY_TZ,
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MIN,
    NS_PER_MS,
    NS_PER_S,
    WINDOW_DAYS,
    business_days,
    default_anchor,
    iso_ms,
    local_day,
    local_ns,
    to_ns,
)

# The order lifecycle as it should run: the conformance view's default pattern.
HAPPY_PATH = (
    "order.created",
    "appraisal.assigned",
    "inspection.scheduled",
    "inspection.completed",
    "review.started",
    "report.submitted",
    "order.closed",
)
# The seed's own conformance example (Process Mining SQL): a subsequence of the above.
SEED_CONFORMANCE_PATH = ("email.received", "review.started", "report.submitted")
REWORK_PATTERN = ("review.started", "revision.requested")
# The QC queue: a report was routed to QC, nobody has started reviewing it yet.
BOTTLENECK = ("action.route_to_qc", "review.started")
# Waiting on the vendor's field work: where vendor contention shows.
VENDOR_WAIT = ("inspection.scheduled", "inspection.completed")

# The seed's eight OCPM object categories, by SpanName prefix.
OCPM_CATEGORIES = {
    "email.": "Communication",
    "page.": "Portal",
    "action.": "System Action",
    "order.": "Order Lifecycle",
    "review.": "Quality Control",
    "report.": "Document",
    "inspection.": "Field Work",
    "appraisal.": "Valuation",
}

BASE_ORDERS = 420
BASE_COORDINATORS = 10
BASE_REVIEWERS = 3
BASE_LEADS = 2
BASE_VENDORS = 12
TEAMS = {
    "purchase": "Purchase Desk",
    "construction": "Purchase Desk",
    "refinance": "Refinance Desk",
    "heloc": "Refinance Desk",
    "closing": "Closing Desk",
    "reo": "Closing Desk",
}
QC_TEAM = "Quality Control"
LEAD_TEAM = "Operations"

Attributes = tuple[tuple[str, str], ...]
# Work starts this long after a sitting does: the portal loads, the operator signs in.
SIGN_IN_NS = 90 * NS_PER_S


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    email: str
    uid: str
    role: str  # coordinator | qc_reviewer | team_lead
    team: str
    seat: people.Seat
    ip: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.seat.timezone)

    def attributes(self) -> Attributes:
        return (
            ("operator.id", self.id),
            ("operator.name", self.name),
            ("operator.email", self.email),
            ("operator.role", self.role),
            ("operator.team", self.team),
        )


@dataclass(slots=True)
class Vendor:
    id: str
    name: str
    share: float  # of orders assigned to it
    appointments_per_day: int
    rework_rate: float
    response_h: float  # median hours to accept an engagement
    report_h: float  # median hours from inspection to report
    contended: bool
    booked: dict[date, int] = field(default_factory=dict)

    def book(self, earliest_ns: int) -> int:
        """The first free inspection appointment on a business day after `earliest`."""
        day = local_day(earliest_ns) + timedelta(days=1)
        while True:
            taken = self.booked.get(day, 0)
            if day.weekday() < 5 and taken < self.appointments_per_day:
                self.booked[day] = taken + 1
                return local_ns(day, 9 + (taken % 4) * 2 + (taken // 4) * 0.25, COMPANY_TZ)
            day += timedelta(days=1)


@dataclass(slots=True)
class Order:
    id: str
    lob: str
    client: str
    state: str
    priority: str
    desktop: bool  # desktop appraisal: no inspection
    arrival_ns: int
    coordinator: str
    vendor: Vendor | None = None
    status: str = "open"  # open | closed | cancelled
    reviews: int = 0
    rework_loops: int = 0
    skipped_review: bool = False
    waited_for_vendor_ns: int = 0

    def attributes(self) -> Attributes:
        out: list[tuple[str, str]] = [
            ("order.id", self.id),
            ("order.lob", self.lob),
            ("order.client", self.client),
            ("order.state", self.state),
            ("order.priority", self.priority),
        ]
        if self.vendor is not None:
            out += [("vendor.id", self.vendor.id), ("vendor.name", self.vendor.name)]
        return tuple(out)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    time_ns: int
    name: str
    attributes: Attributes

    @property
    def order_id(self) -> str:
        return dict(self.attributes).get("order.id", "")


@dataclass(slots=True)
class Task:
    """One sitting of work on one order: a few domain events a minute or so apart."""

    kind: str
    operator_id: str
    start_ns: int
    end_ns: int
    order_id: str
    events: list[DomainEvent]


@dataclass(slots=True)
class SessionPlan:
    """One browser session: an operator's sitting at the portal and the tasks in it."""

    index: int
    session_id: str  # rum.sessionId: 32 hex
    operator: Operator
    start_ns: int
    end_ns: int
    tasks: list[Task]
    seed: int  # the session's own random stream (sessions render independently)


@dataclass(slots=True)
class World:
    seed: int
    scale: float
    anchor_ns: int
    start_ns: int
    operators: list[Operator]
    vendors: list[Vendor]
    orders: list[Order]
    sessions: list[SessionPlan]
    spike_day: date
    incident: tuple[int, int]  # [start, end) ns of the incident hour

    def domain_events(self) -> Iterator[DomainEvent]:
        """Every domain event, in time order."""
        events = [e for s in self.sessions for t in s.tasks for e in t.events]
        yield from sorted(events, key=lambda e: (e.time_ns, e.name))

    def operator(self, operator_id: str) -> Operator:
        return next(o for o in self.operators if o.id == operator_id)


# ---- building the world -------------------------------------------------------------------


def _operators(rng: random.Random, scale: float) -> list[Operator]:
    counts = (
        ("coordinator", max(1, round(BASE_COORDINATORS * scale))),
        ("qc_reviewer", max(1, round(BASE_REVIEWERS * scale))),
        ("team_lead", round(BASE_LEADS * scale)),
    )
    names: set[str] = set()
    operators: list[Operator] = []
    desks = sorted(set(TEAMS.values()))
    for role, count in counts:
        for _ in range(count):
            while True:
                first, last = rng.choice(people.FIRST_NAMES), rng.choice(people.LAST_NAMES)
                if f"{first} {last}" not in names:
                    break
            names.add(f"{first} {last}")
            n = len(operators) + 1
            seat = people.SEATS[(n - 1) % len(people.SEATS)]
            if role == "coordinator":
                team = desks[sum(o.role == "coordinator" for o in operators) % len(desks)]
            else:
                team = QC_TEAM if role == "qc_reviewer" else LEAD_TEAM
            operators.append(
                Operator(
                    id=f"op-{n:03d}",
                    name=f"{first} {last}",
                    email=f"{first.lower()}.{last.lower()}@{people.EMAIL_DOMAIN}",
                    uid=f"{rng.getrandbits(112):028x}",
                    role=role,
                    team=team,
                    seat=seat,
                    ip=f"{seat.ip_prefix}.{10 + (n * 37) % 240}",
                )
            )
    return operators


def _vendors(rng: random.Random, scale: float, orders_per_day: float) -> list[Vendor]:
    count = max(3, round(BASE_VENDORS * math.sqrt(scale)))
    weights = [1 / (rank + 1) ** 0.9 for rank in range(count)]
    total = sum(weights)
    vendors = []
    for rank in range(count):
        share = weights[rank] / total
        contended = rank < 2
        demand = orders_per_day * share * 0.9  # desktop appraisals need no inspection
        per_day = max(1, math.floor(demand * (0.75 if contended else 1.8)))
        rework = 0.45 if rank in (2, count - 1) else (0.05 if rank == 1 else 0.12)
        vendors.append(
            Vendor(
                id=f"V-{1001 + rank}",
                name=people.APPRAISAL_FIRMS[rank % len(people.APPRAISAL_FIRMS)]
                + ("" if rank < len(people.APPRAISAL_FIRMS) else f" {rank + 1}"),
                share=share,
                appointments_per_day=per_day,
                rework_rate=rework,
                response_h=rng.uniform(1.0, 4.0),
                report_h=rng.uniform(6.0, 16.0),
                contended=contended,
            )
        )
    return vendors


def _work_windows(
    rng: random.Random, op: Operator, start_ns: int, anchor_ns: int
) -> list[tuple[int, int]]:
    """The operator's sittings: office hours split by breaks (each one browser session)."""
    zone = op.zone
    personal = rng.uniform(-0.5, 0.75)  # some start early, some late
    windows: list[tuple[int, int]] = []
    for day in business_days(start_ns, anchor_ns, zone):
        if rng.random() < 0.07:  # a day off
            continue
        t = local_ns(day, 8 + personal + rng.gauss(0, 0.15), zone)
        end_of_day = t + round((8.5 + rng.uniform(-0.3, 0.4)) * NS_PER_HOUR)
        lunch_taken = False
        while t < end_of_day - 20 * NS_PER_MIN:
            length = round(rng.uniform(70, 200) * NS_PER_MIN)
            end = min(t + length, end_of_day)
            if start_ns <= t < anchor_ns:
                windows.append((t, min(end, anchor_ns)))
            t = end + round(rng.uniform(8, 35) * NS_PER_MIN)
            if not lunch_taken and local_day(t, zone) == day and t >= local_ns(day, 11.75, zone):
                t += round(rng.uniform(25, 50) * NS_PER_MIN)
                lunch_taken = True
    return windows


def _arrivals(
    rng: random.Random, n: int, start_ns: int, anchor_ns: int
) -> tuple[list[tuple[int, str]], date]:
    """When orders come in (business hours, mornings busier) and their line of business;
    one day in the middle of the range is a refinance surge."""
    days = [d for d in business_days(start_ns, anchor_ns) if local_ns(d, 8, COMPANY_TZ) < anchor_ns]
    spike_day = days[len(days) // 2]
    day_weights = [2.6 if d == spike_day else (1.15 if d.weekday() == 0 else 1.0) for d in days]
    hours = [8, 9, 10, 11, 12, 13, 14, 15, 16]
    hour_weights = [0.7, 1.3, 1.4, 1.2, 0.7, 1.0, 1.1, 0.9, 0.6]
    lobs = [lob for lob, _ in people.LINES_OF_BUSINESS]
    lob_weights = [w for _, w in people.LINES_OF_BUSINESS]
    out: list[tuple[int, str]] = []
    while len(out) < n:
        day = rng.choices(days, day_weights)[0]
        hour = rng.choices(hours, hour_weights)[0] + rng.random()
        at = local_ns(day, hour, COMPANY_TZ) + rng.randrange(NS_PER_MIN)
        if not start_ns <= at < anchor_ns:
            continue
        if day == spike_day and rng.random() < 0.55:
            lob = "refinance"
        else:
            lob = rng.choices(lobs, lob_weights)[0]
        out.append((at, lob))
    out.sort()
    return out, spike_day


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


# ---- the simulation -----------------------------------------------------------------------

Script = list[tuple[float, str, dict[str, str]]]  # (offset s, event name, extra attributes)


@dataclass(slots=True)
class _Desk:
    op: Operator
    windows: list[tuple[int, int]]
    ends: list[int]
    free_at: int = 0


class _Simulation:
    def __init__(self, rng: random.Random, world: World, desks: dict[str, _Desk]) -> None:
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

    def _slot(self, desk: _Desk, earliest: int, duration: int) -> int | None:
        t = max(earliest, desk.free_at)
        i = bisect.bisect_right(desk.ends, t)
        while i < len(desk.windows):
            start_w, end_w = desk.windows[i]
            start = max(start_w + SIGN_IN_NS, t)
            if start + duration <= end_w:
                return start
            i += 1
        return None

    def _book(self, desk: _Desk, start: int, duration: int) -> None:
        desk.free_at = start + duration + round(self.rng.uniform(20, 150) * NS_PER_S)

    def _pick(
        self, candidates: list[_Desk], earliest: int, duration: int, owner: _Desk | None = None
    ) -> tuple[_Desk, int] | None:
        """The owner if they get to it within 4 h, else whoever gets to it first."""
        if owner is not None:
            start = self._slot(owner, earliest, duration)
            if start is not None and start - earliest <= 4 * NS_PER_HOUR:
                return owner, start
        best: tuple[_Desk, int] | None = None
        for desk in candidates:
            start = self._slot(desk, earliest, duration)
            if start is not None and (best is None or start < best[1]):
                best = desk, start
        return best

    def _team(self, role: str, team: str | None = None) -> list[_Desk]:
        return [
            d
            for d in self.desks.values()
            if d.op.role == role and (team is None or d.op.team == team)
        ]

    def _coordinate(
        self, order: Order, earliest: int, duration_s: float
    ) -> tuple[_Desk, int] | None:
        duration = round(duration_s * NS_PER_S)
        owner = self.desks[order.coordinator]
        return self._pick(self._team("coordinator", owner.op.team), earliest, duration, owner)

    def _task(
        self, kind: str, order: Order, desk: _Desk, start: int, duration_s: float, script: Script
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
        gap = 10 if order.priority == "rush" else _lognormal(self.rng, 40, 0.7)
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
        gap_h = _lognormal(self.rng, order.vendor.response_h, 0.6)
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
            gap_h = _lognormal(self.rng, vendor.report_h + 8, 0.5)
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
        gap_h = _lognormal(self.rng, order.vendor.report_h, 0.5)
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
        d = self._duration(15, 35)
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
                task.end_ns + round(_lognormal(self.rng, 5, 0.6) * NS_PER_HOUR),
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


def build_world(seed: int = 7, scale: float = 1.0, anchor: datetime | None = None) -> World:
    """The whole world for `seed` and `scale`, ending at `anchor` (default: this hour)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = random.Random(f"exos-demo/{seed}/world")
    anchor_ns = to_ns(default_anchor(anchor) if anchor is None else anchor)
    start_ns = anchor_ns - WINDOW_DAYS * NS_PER_DAY
    n_orders = max(3, round(BASE_ORDERS * scale))
    arrivals, spike_day = _arrivals(rng, n_orders, start_ns, anchor_ns)
    n_days = sum(1 for _ in business_days(start_ns, anchor_ns))
    operators = _operators(rng, scale)
    vendors = _vendors(rng, scale, n_orders / max(1, n_days))
    desks: dict[str, _Desk] = {}
    for op in operators:
        windows = _work_windows(rng, op, start_ns, anchor_ns)
        desks[op.id] = _Desk(op, windows, [end for _, end in windows])
    coordinators = [o for o in operators if o.role == "coordinator"]
    orders: list[Order] = []
    for i, (at, lob) in enumerate(arrivals):
        team = TEAMS[lob]
        own = [o for o in coordinators if o.team == team] or coordinators
        orders.append(
            Order(
                id=f"ORD-{100001 + i}",
                lob=lob,
                client=rng.choice(people.LENDERS),
                state=rng.choice(people.PROPERTY_STATES),
                priority="rush" if rng.random() < 0.08 else "standard",
                desktop=rng.random() < {"heloc": 0.6, "refinance": 0.1}.get(lob, 0.0),
                arrival_ns=at,
                coordinator=rng.choice(own).id,
            )
        )
    incident_day = next(
        d for d in reversed(list(business_days(start_ns, anchor_ns - NS_PER_DAY))) if d != spike_day
    )
    incident_start = local_ns(incident_day, 14, COMPANY_TZ)
    world = World(
        seed=seed,
        scale=scale,
        anchor_ns=anchor_ns,
        start_ns=start_ns,
        operators=operators,
        vendors=vendors,
        orders=orders,
        sessions=[],
        spike_day=spike_day,
        incident=(incident_start, incident_start + 70 * NS_PER_MIN),
    )
    simulation = _Simulation(rng, world, desks)
    for i, order in enumerate(orders):
        simulation.push(order.arrival_ns, "intake", i)
    simulation.run()
    world.sessions = _sessions(rng, desks, simulation.tasks, scale)
    return world


def _sessions(
    rng: random.Random, desks: dict[str, _Desk], tasks: list[Task], scale: float
) -> list[SessionPlan]:
    by_operator: dict[str, list[Task]] = {}
    for task in tasks:
        by_operator.setdefault(task.operator_id, []).append(task)
    plans: list[SessionPlan] = []
    for op_id, desk in desks.items():
        own = sorted(by_operator.get(op_id, []), key=lambda t: t.start_ns)
        starts = [t.start_ns for t in own]
        for start, end in desk.windows:
            lo, hi = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
            in_window = own[lo:hi]
            if not in_window and rng.random() > 0.5:
                continue  # an idle sitting without the portal open
            plans.append(SessionPlan(0, "", desk.op, start, end, in_window, 0))
    plans.sort(key=lambda p: (p.start_ns, p.operator.id))
    for index, plan in enumerate(plans):
        plan.index = index
        plan.session_id = f"{rng.getrandbits(128):032x}"
        plan.seed = rng.getrandbits(64)
    return plans
