"""Attribute values as the ClickHouse exporter stores them (pdata `Value.AsString`)."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from exos_ingest.anyvalue import as_string, attributes, es6_number


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.0, "1"),
        (3.0, "3"),
        (0.5, "0.5"),
        (1234.5, "1234.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-0.0, "-0"),
        (0.0, "0"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (123456789.0, "123456789"),
        (-2.25e-10, "-2.25e-10"),
        (float("nan"), "json: unsupported value: NaN"),
        (float("inf"), "json: unsupported value: +Inf"),
    ],
)
def test_doubles_are_es6_formatted(number: float, text: str) -> None:
    assert es6_number(number) == text


def test_scalars() -> None:
    assert as_string(AnyValue(string_value="héllo <b>")) == "héllo <b>"
    assert as_string(AnyValue(int_value=-42)) == "-42"
    assert as_string(AnyValue(int_value=2**63 - 1)) == "9223372036854775807"
    assert as_string(AnyValue(bool_value=True)) == "true"
    assert as_string(AnyValue(bool_value=False)) == "false"
    assert as_string(AnyValue(double_value=2.0)) == "2"
    assert as_string(AnyValue(bytes_value=b"\x00\xffab")) == "AP9hYg=="
    assert as_string(AnyValue()) == ""


def test_arrays_and_maps_are_go_json() -> None:
    array = AnyValue(
        array_value=ArrayValue(
            values=[
                AnyValue(string_value="a&b"),
                AnyValue(int_value=1),
                AnyValue(double_value=1.0),
                AnyValue(double_value=0.25),
                AnyValue(bool_value=False),
                AnyValue(),
                AnyValue(bytes_value=b"hi"),
            ]
        )
    )
    assert as_string(array) == '["a\\u0026b",1,1,0.25,false,null,"aGk="]'
    kvlist = AnyValue(
        kvlist_value=KeyValueList(
            values=[
                KeyValue(key="z", value=AnyValue(string_value='say "<hi>"\n')),
                KeyValue(key="a", value=AnyValue(array_value=ArrayValue(values=[]))),
                KeyValue(key="m", value=AnyValue(kvlist_value=KeyValueList())),
            ]
        )
    )
    # Keys sorted, compact, Go's HTML-safe escapes.
    assert as_string(kvlist) == '{"a":[],"m":{},"z":"say \\"\\u003chi\\u003e\\"\\n"}'
    nan_inside = AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=float("nan"))]))
    assert as_string(nan_inside) == ""


def test_a_repeated_key_keeps_its_last_value() -> None:
    pairs = [
        KeyValue(key="k", value=AnyValue(string_value="first")),
        KeyValue(key="k", value=AnyValue(int_value=2)),
    ]
    assert attributes(pairs) == {"k": "2"}
