"""OTLP/JSON document -> `Export*ServiceRequest`, without `json_format.ParseDict`.

A walker driven by the message descriptors, with each message type's field table built
once: a key is looked up by its JSON (camelCase) or proto name, its value checked and set
on the upb message directly. Trace and span ids are read as the hex OTLP/JSON writes
(an id that is not hex becomes one 0xff byte, a length no id has, so its record alone is
rejected). int64 fields take numbers or decimal strings; enums names or numbers.

It takes only the plain, common shapes. Anything else — a null, a float where an integer
goes, a number written as a string where a double goes, an enum name it does not know,
a field given under both names, two members of one oneof, nesting near the parser's
depth limit — raises `NotPlain`, and the caller decodes the document with `json_format`
instead, so unusual input gets exactly the answer (value or 400 message) it always got.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

# json_format's default recursion limit is 100; deep documents go to it, with a margin.
MAX_PLAIN_DEPTH = 64
_HEX_ID_FIELDS = frozenset({"trace_id", "span_id", "parent_span_id"})
_UNREADABLE_ID = b"\xff"

_INT_RANGES = {
    FieldDescriptor.TYPE_INT64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_SINT64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_UINT64: (0, (1 << 64) - 1),
    FieldDescriptor.TYPE_FIXED64: (0, (1 << 64) - 1),
    FieldDescriptor.TYPE_INT32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_UINT32: (0, (1 << 32) - 1),
    FieldDescriptor.TYPE_FIXED32: (0, (1 << 32) - 1),
    FieldDescriptor.TYPE_ENUM: (-(1 << 31), (1 << 31) - 1),
}
_DOUBLE_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


class NotPlain(ValueError):
    """The document needs the general decoder (or is invalid: it will say how)."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: int  # FieldDescriptor.TYPE_*
    repeated: bool
    oneof: str | None
    message: Descriptor | None
    enum_numbers: dict[str, int] | None
    hex_id: bool


_TABLES: dict[str, dict[str, _Field]] = {}


def _table(descriptor: Descriptor) -> dict[str, _Field]:
    table = _TABLES.get(descriptor.full_name)
    if table is None:
        table = {}
        for fd in descriptor.fields:
            enum = fd.enum_type
            spec = _Field(
                name=fd.name,
                kind=fd.type,
                repeated=fd.is_repeated,
                oneof=fd.containing_oneof.name if fd.containing_oneof else None,
                message=fd.message_type,
                enum_numbers={v.name: v.number for v in enum.values} if enum else None,
                hex_id=fd.name in _HEX_ID_FIELDS and fd.type == FieldDescriptor.TYPE_BYTES,
            )
            table[fd.json_name] = spec
            table[fd.name] = spec
        _TABLES[descriptor.full_name] = table
    return table


def fill(message: Message, document: dict[str, Any]) -> None:
    """Fill `message` from `document`; raises `NotPlain` (the message is then partly
    filled and must be discarded). The document is never modified."""
    _fill(message, document, 0)


def _fill(message: Message, node: Any, depth: int) -> None:
    if not isinstance(node, dict) or depth > MAX_PLAIN_DEPTH:
        raise NotPlain("not a plain message")
    table = _table(message.DESCRIPTOR)
    seen: set[str] = set()
    oneofs: set[str] = set()
    for key, value in node.items():
        spec = table.get(key)
        if spec is None:
            continue  # OTLP/JSON receivers ignore unknown fields
        if spec.name in seen or value is None:
            raise NotPlain(key)
        seen.add(spec.name)
        if spec.oneof is not None:
            if spec.oneof in oneofs:
                raise NotPlain(key)
            oneofs.add(spec.oneof)
        if spec.repeated:
            _fill_repeated(message, spec, value, depth)
        elif spec.message is not None:
            child = getattr(message, spec.name)
            child.SetInParent()  # as json_format does: `{}` still sets the field
            _fill(child, value, depth + 1)
        else:
            setattr(message, spec.name, _scalar(spec, value))


def _fill_repeated(message: Message, spec: _Field, value: Any, depth: int) -> None:
    if not isinstance(value, list):
        raise NotPlain(spec.name)
    target = getattr(message, spec.name)
    if spec.message is not None:
        for item in value:
            _fill(target.add(), item, depth + 1)
    else:
        for item in value:
            if item is None:
                raise NotPlain(spec.name)
        target.extend([_scalar(spec, item) for item in value])


def _scalar(spec: _Field, value: Any) -> Any:
    kind = spec.kind
    if kind == FieldDescriptor.TYPE_STRING:
        if isinstance(value, str):
            return value
    elif kind == FieldDescriptor.TYPE_BYTES:
        if isinstance(value, str):
            return _hex_id(value) if spec.hex_id else _base64(value)
    elif kind == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
    elif kind in _DOUBLE_TYPES:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind == FieldDescriptor.TYPE_ENUM and isinstance(value, str):
        assert spec.enum_numbers is not None
        number = spec.enum_numbers.get(value)
        if number is not None:
            return number
    elif kind in _INT_RANGES:
        return _integer(kind, value)
    raise NotPlain(spec.name)


def _integer(kind: int, value: Any) -> int:
    if isinstance(value, bool):
        raise NotPlain("bool as integer")
    if isinstance(value, str):
        # Only plain decimal strings: int() would also take "+5", " 5" or "1_000".
        digits = value[1:] if value.startswith("-") else value
        if not digits.isascii() or not digits.isdigit():
            raise NotPlain("integer string")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise NotPlain("integer")
    low, high = _INT_RANGES[kind]
    if not low <= number <= high:
        raise NotPlain("integer out of range")
    return number


def _hex_id(value: str) -> bytes:
    if not value:
        return b""
    try:
        return binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        return _UNREADABLE_ID


def _base64(value: str) -> bytes:
    # Exactly as json_format reads bytes: URL-safe or standard alphabet, padding added.
    encoded = value.encode("utf-8")
    try:
        return base64.urlsafe_b64decode(encoded + b"=" * (4 - len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise NotPlain("bytes") from exc
