"""The demo world's model: who works, on what, when (see `exos.demo.scenario`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from exos.demo import people
from exos.demo.calendar import COMPANY_TZ, NS_PER_S, local_day, local_ns

HAPPY_PATH = (
    "order.created",
    "appraisal.assigned",
    "inspection.scheduled",
    "inspection.completed",
    "review.started",
    "report.submitted",
    "order.closed",
)
# The reference conformance example (`exos.demo.seed_queries`): a subsequence of the above.
SEED_CONFORMANCE_PATH = ("email.received", "review.started", "report.submitted")
REWORK_PATTERN = ("review.started", "revision.requested")
# The QC queue: a report was routed to QC, nobody has started reviewing it yet.
BOTTLENECK = ("action.route_to_qc", "review.started")
# Waiting on the vendor's field work: where vendor contention shows.
VENDOR_WAIT = ("inspection.scheduled", "inspection.completed")

# The eight OCPM object categories, by SpanName prefix.
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
