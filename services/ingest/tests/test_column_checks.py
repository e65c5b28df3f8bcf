"""Flattening holds every field to its column and to the limits: out-of-range numbers
normalised, ids of the wrong length rejected, attributes/events/links cut, each counted."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_common.messages import ClientContext
from exos_ingest.flatten import flatten_logs, flatten_traces
from exos_ingest.limits import Limits

CLIENT = ClientContext(received_at_ns=1_764_307_210_000_000_000)
TRACE_ID, SPAN_ID = bytes(range(1, 17)), bytes(range(1, 9))
START = 1_764_307_200_000_000_000


def traces(*spans: dict, resource: dict[str, str] | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (resource or {"service.name": "web"}).items():
        resource_spans.resource.attributes.add(key=key, value=AnyValue(string_value=value))
    scope = resource_spans.scope_spans.add()
    for fields in spans:
        span = scope.spans.add(
            trace_id=TRACE_ID, span_id=SPAN_ID, name="s", start_time_unix_nano=START
        )
        for name, value in fields.items():
            if name == "attributes":
                span.attributes.extend(value)
            elif name == "status_code":
                span.status.code = value
            else:
                setattr(span, name, value)
    return request


def logs(*records: dict) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for fields in records:
        record = scope.log_records.add(time_unix_nano=START)
        for name, value in fields.items():
            setattr(record, name, value)
    return request


def kv(key: str, text: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=text))


def nested(depth: int) -> AnyValue:
    value = AnyValue(string_value="leaf")
    for _ in range(depth):
        outer = AnyValue()
        outer.array_value.values.append(value)
        value = outer
    return value


def test_severity_outside_the_data_model_becomes_unspecified_and_is_counted() -> None:
    out = flatten_logs(
        logs({"severity_number": 300}, {"severity_number": -7}, {"severity_number": 24}), CLIENT
    )
    assert [r.severity_number for r in out.records] == [0, 0, 24]
    assert out.corrected == {"severity_number": 2}
    assert out.rejected_count == 0


def test_unknown_span_kind_and_status_code_are_stored_as_unspecified() -> None:
    out = flatten_traces(traces({"kind": 9}, {"status_code": -3}, {"kind": 3}), CLIENT)
    assert [(s.kind, s.status_code) for s in out.records] == [
        ("Unspecified", "Unset"),
        ("Unspecified", "Unset"),
        ("Client", "Unset"),
    ]
    assert out.corrected == {"span_kind": 1, "status_code": 1}


def test_ids_of_the_wrong_length_reject_their_span_only() -> None:
    out = flatten_traces(
        traces(
            {"trace_id": b"\x01" * 17},
            {"span_id": b"\x00" * 8},
            {"parent_span_id": b"\x01" * 3},
            {},
        ),
        CLIENT,
    )
    assert len(out.records) == 1
    assert out.rejected == {"bad_trace_id": 1, "bad_span_id": 1, "bad_parent_span_id": 1}


def test_an_end_time_past_the_column_range_gives_duration_zero() -> None:
    out = flatten_traces(traces({"end_time_unix_nano": (1 << 64) - 1}), CLIENT)
    assert out.records[0].duration_ns == 0
    assert out.corrected == {"bad_end_time": 1}


def test_attribute_limits_count_key_value_and_depth() -> None:
    limits = Limits(max_attributes=3, max_attribute_value_chars=16, max_attribute_key_chars=12)
    attributes = [
        kv("a", "x" * 20),  # truncated to 16
        kv("b" * 13, "y"),  # key too long: dropped
        KeyValue(key="deep", value=nested(17)),  # deeper than 16: ""
        kv("c", "z"),
        kv("a", "again"),  # a repeated key keeps its last value, takes no new room
        kv("d", "over"),  # a 4th distinct key: dropped
    ]
    out = flatten_traces(traces({"attributes": attributes}), CLIENT, limits)
    assert out.records[0].attributes == {"a": "again", "deep": "", "c": "z"}
    assert out.corrected == {
        "value_truncated": 1,
        "attribute_key_too_long": 1,
        "anyvalue_too_deep": 1,
        "attributes_over_limit": 1,
    }


def test_nesting_up_to_the_limit_is_rendered() -> None:
    limits = Limits(max_anyvalue_depth=2)
    attributes = [KeyValue(key="two", value=nested(2)), KeyValue(key="three", value=nested(3))]
    out = flatten_traces(traces({"attributes": attributes}), CLIENT, limits)
    assert out.records[0].attributes == {"two": '[["leaf"]]', "three": ""}


def test_span_names_are_truncated_and_events_links_capped() -> None:
    limits = Limits(max_span_name_chars=16, max_events_per_span=2, max_links_per_span=1)
    request = traces({"name": "n" * 40})
    span = request.resource_spans[0].scope_spans[0].spans[0]
    for i in range(3):
        span.events.add(time_unix_nano=START + i, name="e" * 20)
    span.links.add(trace_id=b"\x01" * 3, span_id=SPAN_ID)  # bad id: dropped
    span.links.add(trace_id=TRACE_ID, span_id=SPAN_ID)  # over the limit of 1
    out = flatten_traces(request, CLIENT, limits)
    (record,) = out.records
    assert record.name == "n" * 16
    assert [(e.timestamp_ns, e.name) for e in record.events] == [
        (START, "e" * 16),
        (START + 1, "e" * 16),
    ]
    assert record.links == []
    assert out.corrected == {
        "value_truncated": 3,
        "events_over_limit": 1,
        "links_over_limit": 1,
        "bad_link_id": 1,
    }


def test_records_over_the_request_limit_are_rejected_the_first_kept() -> None:
    limits = Limits(max_spans_per_request=2, max_logs_per_request=1)
    spans_out = flatten_traces(traces({"name": "a"}, {"name": "b"}, {"name": "c"}), CLIENT, limits)
    assert [s.name for s in spans_out.records] == ["a", "b"]
    assert spans_out.rejected == {"too_many_records": 1}
    logs_out = flatten_logs(logs({"severity_text": "1"}, {"severity_text": "2"}), CLIENT, limits)
    assert [r.severity_text for r in logs_out.records] == ["1"]
    assert logs_out.rejected == {"too_many_records": 1}


def test_the_limit_spans_resources() -> None:
    limits = Limits(max_spans_per_request=1)
    request = traces({"name": "a"})
    request.resource_spans.append(traces({"name": "b"}).resource_spans[0])
    out = flatten_traces(request, CLIENT, limits)
    assert [s.name for s in out.records] == ["a"]
    assert (out.received, out.rejected_count) == (2, 1)
