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

Every domain event carries the attributes the reference SQL (`exos.demo.seed_queries`)
reads: `order.id` (and `order.lob`, `vendor.id`, ...) and `operator.*`.
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import date, datetime

from exos.demo import people
from exos.demo.calendar import (
    COMPANY_TZ,
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MIN,
    WINDOW_DAYS,
    business_days,
    default_anchor,
    local_day,
    local_ns,
    to_ns,
)
from exos.demo.lifecycle import Desk, Simulation
from exos.demo.model import (
    BASE_COORDINATORS,
    BASE_LEADS,
    BASE_ORDERS,
    BASE_REVIEWERS,
    BASE_VENDORS,
    BOTTLENECK,
    HAPPY_PATH,
    LEAD_TEAM,
    OCPM_CATEGORIES,
    QC_TEAM,
    REWORK_PATTERN,
    SEED_CONFORMANCE_PATH,
    TEAMS,
    VENDOR_WAIT,
    DomainEvent,
    Operator,
    Order,
    SessionPlan,
    Task,
    Vendor,
    World,
)

__all__ = [
    "BOTTLENECK",
    "HAPPY_PATH",
    "OCPM_CATEGORIES",
    "REWORK_PATTERN",
    "SEED_CONFORMANCE_PATH",
    "VENDOR_WAIT",
    "DomainEvent",
    "Operator",
    "Order",
    "SessionPlan",
    "Task",
    "Vendor",
    "World",
    "build_world",
]

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
    desks: dict[str, Desk] = {}
    for op in operators:
        windows = _work_windows(rng, op, start_ns, anchor_ns)
        desks[op.id] = Desk(op, windows, [end for _, end in windows])
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
    simulation = Simulation(rng, world, desks)
    for i, order in enumerate(orders):
        simulation.push(order.arrival_ns, "intake", i)
    simulation.run()
    world.sessions = _sessions(rng, desks, simulation.tasks, scale)
    return world


def _sessions(
    rng: random.Random, desks: dict[str, Desk], tasks: list[Task], scale: float
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
