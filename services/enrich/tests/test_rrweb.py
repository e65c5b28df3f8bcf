"""rrweb events out of replay chunks: type, source, time, and the small data the rules read."""

from __future__ import annotations

from enrich_testkit import full_snapshot, meta, mutation, ns, replay, rrweb, scroll

from exos_enrich.frustration.rrweb import RrwebReassembler, parse_event


def test_single_chunk_events_are_read_cheaply_or_parsed_when_small() -> None:
    assembler = RrwebReassembler()
    [chunk] = mutation(1200)
    event = assembler.add(chunk)
    assert event is not None
    assert (event.type, event.source, event.timestamp_ns) == (3, 0, ns(1200))
    assert event.data is None  # a mutation is not parsed: type and source are enough
    assert event.changes_dom
    [chunk] = scroll(1300, y=640, node=1)
    event = assembler.add(chunk)
    assert event is not None and event.data == {"source": 3, "id": 1, "x": 0, "y": 640}
    assert not event.changes_dom
    [chunk] = meta(0, href="https://a.example/x", height=900)
    event = assembler.add(chunk)
    assert event is not None and event.data is not None and event.data["height"] == 900


def test_a_chunked_full_snapshot_keeps_only_its_ends() -> None:
    assembler = RrwebReassembler()
    chunks = full_snapshot(5, top=350, padding=5000, chunks=4, ordinal=3)
    assert [assembler.add(c) for c in chunks[:-1]] == [None, None, None]
    assert assembler.in_progress
    event = assembler.add(chunks[-1])
    assert event is not None
    assert (event.type, event.document_id, event.initial_top) == (2, 1, 350.0)
    assert event.timestamp_ns == ns(5)
    assert not assembler.in_progress


def test_a_chunk_out_of_sequence_drops_its_event_and_the_next_event_is_fine() -> None:
    assembler = RrwebReassembler()
    first, _second, third = mutation(10, padding=900, chunks=3, ordinal=1)
    assert assembler.add(first) is None
    assert assembler.add(third) is None  # the second chunk never came
    assert assembler.dropped_events == 2  # the broken event, and the stray chunk's
    [chunk] = mutation(20, ordinal=2)
    event = assembler.add(chunk)
    assert event is not None and event.timestamp_ns == ns(20)


def test_a_new_event_starting_mid_way_drops_the_unfinished_one() -> None:
    assembler = RrwebReassembler()
    first, _, _ = mutation(10, padding=900, chunks=3, ordinal=1)
    assembler.add(first)
    [whole] = scroll(20, y=5, ordinal=2)
    assert assembler.add(whole) is not None
    assert assembler.dropped_events == 1


def test_unusual_key_order_falls_back_to_a_full_parse() -> None:
    body = '{"timestamp": 1700000000123, "data": {"y": 5, "source": 3, "id": 1}, "type": 3}'
    event = parse_event(body, body, 0, body)
    assert event is not None
    assert (event.type, event.source, event.timestamp_ns) == (3, 3, 1_700_000_000_123_000_000)


def test_the_time_comes_from_the_event_when_the_record_has_none() -> None:
    body = rrweb({"type": 3, "data": {"source": 0, "adds": []}, "timestamp": 1700000000456})
    event = parse_event(body, body, 0, body)
    assert event is not None and event.timestamp_ns == 1_700_000_000_456_000_000


def test_garbage_is_not_an_event() -> None:
    assert parse_event("not json", "not json", 0, "not json") is None
    assembler = RrwebReassembler()
    [chunk] = replay(3, 10, {"source": 0})
    chunk.body = "{broken"
    assert assembler.add(chunk) is None
    assert assembler.dropped_events == 1


def test_times_and_offsets_that_are_no_numbers_a_process_can_hold_are_not_read() -> None:
    # Session state holds event times in int64 arrays and snapshots: a browser's
    # nonsense must be dropped here, not fail later (or crash the consumer now).
    huge = '{"type":3,"data":{"source":0},"timestamp":1e300}'
    assert parse_event(huge[:512], huge[-512:], 0, huge) is None
    assert (
        parse_event('{"type":3,"data":{"source":0},', '"timestamp":' + "9" * 400 + "}", 0, None)
        is None
    )
    assert parse_event('{"type":3,"data":{"source":0}', "}", 2**63, None) is None
    tail = '"id":1},"initialOffset":{"left":0,"top":1.2.3}},"timestamp":5}'
    event = parse_event('{"type":2,"data":{"node":', tail, ns(5), None)
    assert event is not None and (event.document_id, event.initial_top) == (None, None)
    tail = '"id":1},"initialOffset":{"left":0,"top":1e999}},"timestamp":5}'
    event = parse_event('{"type":2,"data":{"node":', tail, ns(5), None)
    assert event is not None and event.initial_top is None
