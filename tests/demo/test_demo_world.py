"""The demo world (scenario + lifecycle simulation): what the process-mining views are
supposed to find is really in the domain events, computed here in plain Python."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict

import pytest

from exos.demo.calendar import NS_PER_HOUR, local_day, local_hour
from exos.demo.scenario import (
    BOTTLENECK,
    HAPPY_PATH,
    OCPM_CATEGORIES,
    REWORK_PATTERN,
    SEED_CONFORMANCE_PATH,
    VENDOR_WAIT,
    DomainEvent,
    World,
    build_world,
)
from exos_common.testing import dates

# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7, 1.0, ANCHOR)


@pytest.fixture(scope="module")
def by_order(world: World) -> dict[str, list[DomainEvent]]:
    out: dict[str, list[DomainEvent]] = defaultdict(list)
    for event in world.domain_events():
        if event.order_id:
            out[event.order_id].append(event)
    return out


def is_subsequence(names: list[str], pattern: tuple[str, ...]) -> bool:
    """What sequenceMatch('(?1)(?2)...') answers: the steps in order, anything between."""
    rest = iter(names)
    return all(any(name == step for name in rest) for step in pattern)


def sequence_count(names: list[str], pattern: tuple[str, str]) -> int:
    """sequenceCount('(?1)(?2)'): non-overlapping occurrences of step 1 then step 2."""
    count, want = 0, 0
    for name in names:
        if name == pattern[want]:
            want += 1
            if want == len(pattern):
                count, want = count + 1, 0
    return count


def transitions(by_order: dict[str, list[DomainEvent]]) -> dict[tuple[str, str], list[float]]:
    """lagInFrame over each order's events: gap in hours between neighbours."""
    gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for events in by_order.values():
        for a, b in itertools.pairwise(events):
            gaps[(a.name, b.name)].append((b.time_ns - a.time_ns) / NS_PER_HOUR)
    return gaps


def test_the_default_world_has_the_documented_size(world: World) -> None:
    assert len(world.orders) == 420
    assert Counter(o.role for o in world.operators) == {
        "coordinator": 10,
        "qc_reviewer": 3,
        "team_lead": 2,
    }
    assert len(world.vendors) == 12
    assert 380 <= len(world.sessions) <= 480
    # every session id is 32 hex characters and unique
    ids = [p.session_id for p in world.sessions]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_times_are_the_last_14_days_in_office_hours(world: World) -> None:
    events = list(world.domain_events())
    assert world.start_ns <= events[0].time_ns and events[-1].time_ns <= world.anchor_ns
    assert world.anchor_ns - world.start_ns == 14 * 24 * NS_PER_HOUR
    for event in events:
        assert local_day(event.time_ns).weekday() < 5
        assert 6 <= local_hour(event.time_ns) < 20  # Central time; some work from other zones
    for plan in world.sessions:
        assert all(plan.start_ns <= e.time_ns <= plan.end_ns for t in plan.tasks for e in t.events)


def test_domain_events_carry_the_attributes_the_seed_sql_reads(world: World) -> None:
    names = set()
    for event in world.domain_events():
        attrs = dict(event.attributes)
        names.add(event.name)
        assert attrs["operator.id"].startswith("op-") and "@" in attrs["operator.email"]
        if event.name != "page.inbox":
            assert attrs["order.id"].startswith("ORD-") and attrs["order.lob"]
        if event.name in ("appraisal.assigned", "inspection.scheduled", "review.started"):
            assert attrs["vendor.id"].startswith("V-")
    # every OCPM category has events, the reference SQL's names included
    for prefix in OCPM_CATEGORIES:
        assert any(name.startswith(prefix) for name in names), prefix
    assert {"email.read", "email.received", "email.sent", "review.started"} <= names
    assert {"report.submitted", "revision.requested", "order.created", "order.closed"} <= names


def test_most_closed_orders_follow_the_happy_path_and_some_do_not(
    world: World, by_order: dict[str, list[DomainEvent]]
) -> None:
    closed = [o for o in world.orders if o.status == "closed"]
    conforming = [o for o in closed if is_subsequence([e.name for e in by_order[o.id]], HAPPY_PATH)]
    assert 0.7 < len(conforming) / len(closed) < 0.95
    # what does not: desktop appraisals (no inspection) and rush orders that skipped QC
    deviating = {o.id for o in closed} - {o.id for o in conforming}
    assert all(o.desktop or o.skipped_review for o in closed if o.id in deviating)
    assert any(o.skipped_review for o in closed) and any(o.desktop for o in closed)
    # the reference pattern (report e-mail, review, submit) holds wherever QC reviewed
    seed_conforming = sum(
        is_subsequence([e.name for e in by_order[o.id]], SEED_CONFORMANCE_PATH) for o in closed
    )
    assert seed_conforming == sum(1 for o in closed if not o.skipped_review)


def test_rework_loops_are_there_and_come_from_the_sloppy_vendors(
    world: World, by_order: dict[str, list[DomainEvent]]
) -> None:
    loops = {
        o.id: sequence_count([e.name for e in by_order[o.id]], REWORK_PATTERN) for o in world.orders
    }
    assert all(loops[o.id] == o.rework_loops for o in world.orders)
    reworked = [o for o in world.orders if o.rework_loops > 0]
    assert len(reworked) >= 30 and max(loops.values()) >= 2
    reviewed = [o for o in world.orders if o.reviews and o.vendor is not None]
    sloppy = [o for o in reviewed if o.vendor and o.vendor.rework_rate > 0.3]
    careful = [o for o in reviewed if o.vendor and o.vendor.rework_rate <= 0.3]
    rate = lambda orders: sum(o.rework_loops > 0 for o in orders) / len(orders)  # noqa: E731
    assert rate(sloppy) > 2.5 * rate(careful)


def test_the_qc_queue_is_the_bottleneck(by_order: dict[str, list[DomainEvent]]) -> None:
    gaps = transitions(by_order)
    # Among hand-offs inside the office (the next step is not waiting on a vendor or a
    # client e-mail), the QC queue has the longest mean wait, by far.
    internal = {
        pair: statistics.mean(hours)
        for pair, hours in gaps.items()
        if len(hours) >= 20 and pair[1] not in ("email.received", "inspection.completed")
    }
    ranked = sorted(internal, key=internal.__getitem__, reverse=True)
    assert ranked[0] == BOTTLENECK
    assert internal[BOTTLENECK] > 2 * internal[ranked[1]]
    assert statistics.quantiles(gaps[BOTTLENECK], n=20)[-1] > 24  # p95 over a day


def test_orders_contend_for_the_popular_vendors(
    world: World, by_order: dict[str, list[DomainEvent]]
) -> None:
    waits: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for order in world.orders:
        events = {e.name: e.time_ns for e in by_order[order.id]}
        if order.vendor and VENDOR_WAIT[0] in events and VENDOR_WAIT[1] in events:
            waits[order.vendor.id].append((events[VENDOR_WAIT[0]], events[VENDOR_WAIT[1]]))

    def mean_hours(vendor_ids: list[str]) -> float:
        spans = [(c - s) / NS_PER_HOUR for v in vendor_ids for s, c in waits[v]]
        return statistics.mean(spans)

    def most_waiting_at_once(vendor_id: str) -> int:
        edges = sorted(
            [(s, 1) for s, _ in waits[vendor_id]] + [(c, -1) for _, c in waits[vendor_id]]
        )
        level = peak = 0
        for _, step in edges:
            level += step
            peak = max(peak, level)
        return peak

    contended = [v.id for v in world.vendors if v.contended]
    others = [v.id for v in world.vendors if not v.contended]
    assert len(contended) == 2
    assert mean_hours(contended) > 1.5 * mean_hours(others)
    assert max(most_waiting_at_once(v) for v in contended) >= 15
    assert max(most_waiting_at_once(v) for v in contended) > max(
        most_waiting_at_once(v) for v in others
    )


def test_the_refinance_surge_is_an_outlier_day(world: World) -> None:
    per_day = Counter(local_day(o.arrival_ns) for o in world.orders)
    others = [n for day, n in per_day.items() if day != world.spike_day]
    assert per_day[world.spike_day] > 2 * statistics.median(others)
    surge = [o for o in world.orders if local_day(o.arrival_ns) == world.spike_day]
    assert Counter(o.lob for o in surge).most_common(1)[0][0] == "refinance"


def test_sessions_hold_their_operators_tasks_in_order(world: World) -> None:
    for plan in world.sessions:
        starts = [t.start_ns for t in plan.tasks]
        assert starts == sorted(starts)
        assert all(t.operator_id == plan.operator.id for t in plan.tasks)
    # an operator's sessions never overlap
    by_operator: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for plan in world.sessions:
        by_operator[plan.operator.id].append((plan.start_ns, plan.end_ns))
    for windows in by_operator.values():
        windows.sort()
        ends = [e for _, e in windows]
        assert all(windows[i + 1][0] >= ends[i] for i in range(len(windows) - 1))


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, c = build_world(3, 0.1, ANCHOR), build_world(3, 0.1, ANCHOR), build_world(4, 0.1, ANCHOR)
    assert [p.session_id for p in a.sessions] == [p.session_id for p in b.sessions]
    assert list(a.domain_events()) == list(b.domain_events())
    assert [p.session_id for p in a.sessions] != [p.session_id for p in c.sessions]
