"""Browser sessions, their rrweb recordings and the OTLP requests they become."""

from __future__ import annotations

import gzip
import hashlib
import itertools
from collections import Counter
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from exos.demo import rrweb
from exos.demo.browser import ERRORS_SCOPE
from exos.demo.otlp import (
    MAX_CHUNK_BYTES,
    SPANS_PER_REQUEST,
    replay_chunks,
    session_headers,
    session_requests,
    trace_requests,
)
from exos.demo.scenario import World, build_world
from exos.demo.sessions import RenderedSession, big_snapshot_session, render_session
from exos_common.testing import dates

# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR
NS_PER_MS = 1_000_000

# The SpanName taxonomy the demo imitates (span counts of a reference portal): name -> count.
SEED_TAXONOMY = {
    "click": 1123, "mousedown": 305, "mouseup": 286, "HTTP POST": 10869, "HTTP GET": 829,
    "resourceFetch": 1412, "longtask": 4668, "webvitals": 283, "documentLoad": 149,
    "visibility": 262, "page.order_detail": 519, "page.scheduling": 373, "page.inbox": 356,
    "page.documents": 347, "email.read": 767, "email.received": 748, "email.sent": 711,
    "review.started": 187, "report.submitted": 177, "record init": 149,
}  # fmt: skip


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7, 0.5, ANCHOR)


@pytest.fixture(scope="module")
def sessions(world: World) -> list[RenderedSession]:
    return [render_session(world, plan) for plan in world.sessions]


def requests_digest(world: World) -> str:
    digest = hashlib.sha256()
    for plan in world.sessions:
        session = render_session(world, plan)
        for request in session_requests(session):
            digest.update(request.path.encode() + request.body)
        digest.update(orjson.dumps(session_headers(session, "key")))
    return digest.hexdigest()


def test_same_seed_sends_byte_identical_requests_other_seed_does_not() -> None:
    first = requests_digest(build_world(5, 0.03, ANCHOR))
    assert first == requests_digest(build_world(5, 0.03, ANCHOR))
    assert first != requests_digest(build_world(6, 0.03, ANCHOR))


def test_span_names_keep_the_seed_taxonomys_proportions(sessions: list[RenderedSession]) -> None:
    names = Counter(s.name for session in sessions for s in session.spans)
    logs = {"console.log", "console.debug", "console.warn"}  # ingest makes them log records
    console = sum(names[name] for name in logs)
    traces = Counter({k: v for k, v in names.items() if k not in logs})
    ranked = [name for name, _ in traces.most_common()]
    assert ranked[0] == "HTTP POST"  # dominant, as in the taxonomy above
    assert set(ranked[:3]) == {"HTTP POST", "longtask", "click"}
    assert 0.3 < traces["HTTP POST"] / traces.total() < 0.5  # taxonomy: 44%
    seed_total = sum(SEED_TAXONOMY.values())
    demo_total = sum(traces[name] for name in SEED_TAXONOMY)
    for name, seed_count in SEED_TAXONOMY.items():
        ratio = (traces[name] / demo_total) / (seed_count / seed_total)
        # Within a factor of four; clicks run ~3.5x the taxonomy's share because every
        # domain event in the demo is caused by a gesture (and the SDK doubles clicks).
        assert 0.25 < ratio < 4, (name, round(ratio, 2))
    # e-mails: each one received is read, about as many are sent (taxonomy: 748 / 767 / 711)
    assert traces["email.read"] == traces["email.received"]
    assert 0.8 < traces["email.sent"] / traces["email.received"] < 1.2
    # console output: info > debug >> warn, a few errors (taxonomy: 13,199 / 7,422 / 27)
    levels = Counter(
        dict(s.attributes)["level"]
        for session in sessions
        for s in session.spans
        if s.scope[0] == "console"
    )
    assert levels["info"] > levels["debug"] > 20 * levels["warn"] > 0
    assert sum(levels.values()) == console
    errors = sum(1 for session in sessions for s in session.spans if s.scope == ERRORS_SCOPE)
    assert 0 < errors < 0.01 * traces.total()


def test_every_span_and_replay_chunk_carries_its_session_id(
    sessions: list[RenderedSession],
) -> None:
    for session in sessions[:40]:
        sid = session.plan.session_id
        for request in session_requests(session):
            if request.path == "/v1/traces":
                body = orjson.loads(request.body)
                for resource_spans in body["resourceSpans"]:
                    attrs = {
                        a["key"]: a["value"]["stringValue"]
                        for a in resource_spans["resource"]["attributes"]
                    }
                    assert attrs["rum.sessionId"] == sid
                    assert attrs["service.name"] == "appraisal-portal"
                    assert attrs["telemetry.sdk.name"] == "@hyperdx/otel-web"
                    assert len(attrs["rum.scriptInstance"]) == 16
                    assert all(scope["spans"] for scope in resource_spans["scopeSpans"])
            else:
                logs = ExportLogsServiceRequest()
                logs.ParseFromString(gzip.decompress(request.body))
                for resource_logs in logs.resource_logs:
                    attrs = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
                    assert attrs["rum.sessionId"] == sid
                    assert resource_logs.scope_logs[0].scope.name == "rum.rr-web"
                    record = resource_logs.scope_logs[0].log_records[0]
                    assert [a.key for a in record.attributes] == [
                        "rr-web.offset",
                        "rr-web.event",
                        "rr-web.chunk",
                        "rr-web.total-chunks",
                    ]
                    assert record.attributes[0].value.WhichOneof("value") == "double_value"


def test_requests_are_shaped_like_the_sdks(sessions: list[RenderedSession]) -> None:
    session = next(s for s in sessions if len(s.spans) > SPANS_PER_REQUEST)
    requests = list(session_requests(session))
    traces = [r for r in requests if r.path == "/v1/traces"]
    assert [r.content_type for r in traces] == ["application/json"] * len(traces)
    assert all(r.content_encoding is None and 0 < r.spans <= 200 for r in traces)
    replay = [r for r in requests if r.path == "/v1/logs"]
    assert replay and all(r.content_encoding == "gzip" for r in replay)
    assert requests.index(replay[0]) == len(traces)  # traces first, then the replay
    span = orjson.loads(traces[0].body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["name"] == "documentLoad" and len(span["traceId"]) == 32
    assert isinstance(span["startTimeUnixNano"], str)
    headers = session_headers(session, "k")
    assert headers["authorization"] == "k"
    assert headers["user-agent"].startswith("Mozilla/5.0")
    assert headers["x-forwarded-for"] == session.plan.operator.ip


def test_clicks_are_doubled_and_identity_follows_sign_in(sessions: list[RenderedSession]) -> None:
    for session in sessions[:30]:
        clicks = Counter(
            (s.start_ns, dict(s.attributes)["target_xpath"])
            for s in session.spans
            if s.name == "click"
        )
        assert set(clicks.values()) <= {2}
        load = next(s for s in session.spans if s.name == "documentLoad")
        assert "user.email" not in dict(load.attributes)
        actions = [s for s in session.spans if s.scope[0] == "custom-action"]
        emails = {dict(s.attributes).get("user.email") for s in actions}
        assert emails <= {session.plan.operator.email}


def dom_changes_ms(events: list[dict[str, Any]]) -> list[int]:
    return [e["timestamp"] for e in events if rrweb.is_dom_change(e)]


def test_recordings_start_with_meta_and_snapshot_and_react_to_live_clicks_only(
    sessions: list[RenderedSession],
) -> None:
    dead_total = 0
    for session in sessions:
        events = session.rrweb_events
        assert [events[0]["type"], events[1]["type"]] == [rrweb.META, rrweb.FULL_SNAPSHOT]
        stamps = [e["timestamp"] for e in events]
        assert all(a < b for a, b in itertools.pairwise(stamps))
        metas = [i for i, e in enumerate(events) if e["type"] == rrweb.META]
        assert len(metas) == len(session.resources)
        assert all(events[i + 1]["type"] == rrweb.FULL_SNAPSHOT for i in metas)
        changes = dom_changes_ms(events)
        clicks_ms = {
            e["timestamp"]
            for e in events
            if e["type"] == rrweb.INCREMENTAL
            and e["data"]["source"] == rrweb.MOUSE_INTERACTION
            and e["data"]["type"] == rrweb.CLICK
        }
        for click_ns in session.live_click_ns:
            ms = click_ns // NS_PER_MS
            assert ms in clicks_ms
            assert any(ms <= t <= ms + 500 for t in changes), "a live click got no mutation"
        for click_ns in session.dead_click_ns:
            ms = click_ns // NS_PER_MS
            assert ms in clicks_ms
            assert not any(ms - 20 <= t <= ms + 500 for t in changes), "a dead click mutated"
            assert stamps[-1] > ms + 500  # the replay goes on past the window
        dead_total += len(session.dead_click_ns)
        assert session.frustration.dead_clicks == len(session.dead_click_ns)
    assert dead_total > 20


def test_quick_backs_are_exactly_the_ones_made(sessions: list[RenderedSession]) -> None:
    """A -> B -> A within 15 s, computed from the navigations (documentLoad/routeChange)."""
    made = found = 0
    for session in sessions:
        navigations = [(t, url) for t, url in session.navigations]
        count = 0
        pages: list[tuple[str, int]] = []
        for t, url in navigations:
            if pages and pages[-1][0] == url:
                continue
            if len(pages) >= 2 and pages[-2][0] == url and t - pages[-1][1] <= 15_000_000_000:
                count += 1
            pages.append((url, t))
        assert count == session.frustration.quick_backs, session.plan.index
        made += session.frustration.quick_backs
        found += count
    assert made == found > 5


def test_one_full_snapshot_is_chunked_like_the_recorder_does(world: World) -> None:
    session = render_session(world, world.sessions[big_snapshot_session(world)])
    chunks = replay_chunks(session)
    big = [c for c in chunks if c.total > 1]
    assert [c.chunk for c in big] == [1, 2] and big[0].event == big[1].event
    assert len(big[0].body.encode()) == MAX_CHUNK_BYTES
    event = session.rrweb_events[big[0].event - 1]
    assert event["type"] == rrweb.FULL_SNAPSHOT
    assert big[0].body + big[1].body == orjson.dumps(event).decode()
    assert [c.offset for c in chunks] == list(range(1, len(chunks) + 1))
    # the document node's id ends the node, right before initialOffset (enrich reads it)
    assert '"id":1},"initialOffset":{"left":0,"top":0}' in big[1].body


def test_protobuf_traces_carry_exactly_what_the_json_ones_do(
    sessions: list[RenderedSession],
) -> None:
    from exos_ingest.otlp_decode import TRACES, Encoding, parse

    session = sessions[3]
    as_json = list(trace_requests(session, "json"))
    as_protobuf = list(trace_requests(session, "protobuf"))
    assert [r.content_type for r in as_protobuf] == ["application/x-protobuf"] * len(as_json)
    for j, p in zip(as_json, as_protobuf, strict=True):
        from_json = spans_with_context(parse(TRACES, Encoding.JSON, j.body))
        assert from_json == spans_with_context(parse(TRACES, Encoding.PROTOBUF, p.body))
        assert len(from_json) == j.spans


def spans_with_context(request: Any) -> list[tuple[bytes, bytes, bytes]]:
    """Each span with its resource and scope: ingest parses a large protobuf export in
    pieces, each piece its own resource_spans entry, so the nesting may differ while what
    is stored may not."""
    return [
        (rs.resource.SerializeToString(), ss.scope.SerializeToString(), span.SerializeToString())
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
