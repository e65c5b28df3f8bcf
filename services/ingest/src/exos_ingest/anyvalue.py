"""OTLP `AnyValue` -> the string the OpenTelemetry ClickHouse exporter stores.

The exporter writes every attribute value with pdata's `Value.AsString()`, so these
rules decide what `SpanAttributes[...]` holds in ClickHouse and must match it exactly:
strings as they are, ints in decimal, doubles formatted like ES6 (`1.0` -> `"1"`),
bools `true`/`false`, bytes base64, arrays and key-value lists as compact JSON with
sorted keys and Go's HTML-safe escaping, an empty value as `""`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# Deeper than any real attribute, shallow enough that rendering never nears Python's
# recursion limit whatever the parser let through.
DEFAULT_MAX_DEPTH = 16


def attributes(pairs: Iterable[KeyValue]) -> dict[str, str]:
    """Key-value list -> string map (a repeated key keeps its last value, as pdata does)."""
    return {pair.key: _string_or_empty(pair.value) for pair in pairs}


def _string_or_empty(value: AnyValue) -> str:
    try:
        return as_string(value)
    except TooDeep:
        return ""


class TooDeep(ValueError):
    """An array/kvlist value nested deeper than the limit."""


def as_string(value: AnyValue, max_depth: int = DEFAULT_MAX_DEPTH) -> str:
    """Raises `TooDeep` for arrays/kvlists nested more than `max_depth` levels."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return es6_number(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind in ("array_value", "kvlist_value"):
        try:
            return _go_json(_raw(value, max_depth))
        except _NotRepresentable:
            return ""  # Go's json.Marshal fails on NaN/Inf; AsString then yields ""
    return ""


def es6_number(number: float) -> str:
    """Shortest round-trip digits, fixed notation unless |x| < 1e-6 or >= 1e21 (ES6 and
    Go's encoding/json), so `1.0` -> `1`, `0.5` -> `0.5`, `1e21` -> `1e+21`."""
    if math.isnan(number) or math.isinf(number):
        shown = "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
        return f"json: unsupported value: {shown}"  # what pdata writes for these
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(number)  # Python's repr is already the shortest round-trip form
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits}"  # Go writes e-7, not e-07
    fixed = format(Decimal(repr(number)), "f")
    if "." in fixed:
        fixed = fixed.rstrip("0").rstrip(".")
    return fixed


class _NotRepresentable(ValueError):
    pass


def _raw(value: AnyValue, depth_left: int) -> Any:
    """pdata's `AsRaw()`: the value as plain data for JSON marshalling."""
    kind = value.WhichOneof("value")
    if kind in ("array_value", "kvlist_value"):
        if depth_left <= 0:
            raise TooDeep(kind)
        depth_left -= 1
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "bytes_value":
        return value.bytes_value
    if kind == "array_value":
        return [_raw(item, depth_left) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: _raw(pair.value, depth_left) for pair in value.kvlist_value.values}
    return None


def _go_json(data: Any) -> str:
    """JSON as Go's encoding/json writes it: compact, map keys sorted, `<>&` and
    U+2028/U+2029 escaped, floats ES6-formatted, bytes base64."""
    if data is None:
        return "null"
    if data is True:
        return "true"
    if data is False:
        return "false"
    if isinstance(data, int):
        return str(data)
    if isinstance(data, float):
        if math.isnan(data) or math.isinf(data):
            raise _NotRepresentable(data)
        return es6_number(data)
    if isinstance(data, str):
        return _go_string(data)
    if isinstance(data, bytes):
        return _go_string(base64.b64encode(data).decode("ascii"))
    if isinstance(data, list):
        return "[" + ",".join(_go_json(item) for item in data) + "]"
    items = sorted(data.items())
    return "{" + ",".join(f"{_go_string(k)}:{_go_json(v)}" for k, v in items) + "}"


_GO_EXTRA_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _go_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_GO_EXTRA_ESCAPES)
