"""A large OTLP protobuf export parsed in small pieces, so no single parse call holds
the GIL for long (a 64 MiB request parsed in one call stops every other thread of the
process, the event loop included, for over a second).

`ExportTraceServiceRequest` and `ExportLogsServiceRequest` share one shape on the wire:
field 1 repeats Resource{Spans,Logs}, each with field 2 repeating Scope{Spans,Logs},
each with field 2 repeating the records. A request is cut into pieces that are each a
valid request holding one resource (its own fields copied), one scope and a run of
records, and the pieces are merged one by one: protobuf merges concatenated messages by
appending repeated fields, so the result differs from a one-call parse only in that a
large scope arrives as several consecutive scopes with the same resource and scope,
which flattening treats exactly as one.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import DecodeError, Message

PIECE_BYTES = 64 * 1024
_REPEATED_CHILD = 2  # scope_spans / scope_logs, and spans / log_records below them
_TOP_FIELD = 1  # resource_spans / resource_logs
_LENGTH_DELIMITED = 2


class _Malformed(ValueError):
    pass


def parse_in_pieces(message: Message, payload: bytes, piece_bytes: int = PIECE_BYTES) -> None:
    """Fill `message` from `payload`; raises DecodeError as ParseFromString does."""
    if len(payload) <= piece_bytes:
        message.ParseFromString(payload)
        return
    try:
        pieces = list(_pieces(memoryview(payload), piece_bytes))
    except _Malformed:
        message.ParseFromString(payload)  # malformed: let protobuf say how
        return
    message.Clear()
    for piece in pieces:
        message.MergeFromString(piece)
    if not message.IsInitialized():  # proto3 has no required fields; kept for safety
        raise DecodeError("incomplete message")


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start of the field, start of its payload, end) for each field."""
    pos = 0
    while pos < len(buf):
        start = pos
        tag, pos = _varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            _, pos = _varint(buf, pos)
            payload = pos
        elif wire_type == 1:
            payload, pos = pos, pos + 8
        elif wire_type == _LENGTH_DELIMITED:
            length, payload = _varint(buf, pos)
            pos = payload + length
        elif wire_type == 5:
            payload, pos = pos, pos + 4
        else:
            raise _Malformed("groups are not OTLP")
        if pos > len(buf) or number == 0:
            raise _Malformed("truncated field")
        yield number, start, payload, pos


def _frame(number: int, body: bytes) -> bytes:
    return _encode_varint(number << 3 | _LENGTH_DELIMITED) + _encode_varint(len(body)) + body


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _split(buf: memoryview) -> tuple[bytes, list[memoryview]]:
    """A message's own fields (everything but field 2) and its field-2 payloads."""
    own = bytearray()
    children: list[memoryview] = []
    for number, start, payload, end in _fields(buf):
        if number == _REPEATED_CHILD:
            children.append(buf[payload:end])
        else:
            own += buf[start:end]
    return bytes(own), children


def _pieces(payload: memoryview, piece_bytes: int) -> Iterator[bytes]:
    for number, start, body, end in _fields(payload):
        if number != _TOP_FIELD or end - start <= piece_bytes:
            yield bytes(payload[start:end])
            continue
        resource_fields, scopes = _split(payload[body:end])
        if not scopes:
            yield _frame(_TOP_FIELD, resource_fields)
        for scope in scopes:
            scope_fields, records = _split(scope)
            for run in _runs(records, piece_bytes):
                scope_piece = scope_fields + b"".join(_frame(_REPEATED_CHILD, r) for r in run)
                yield _frame(_TOP_FIELD, resource_fields + _frame(_REPEATED_CHILD, scope_piece))
            if not records:
                yield _frame(_TOP_FIELD, resource_fields + _frame(_REPEATED_CHILD, scope_fields))


def _runs(records: list[memoryview], piece_bytes: int) -> Iterator[list[bytes]]:
    run: list[bytes] = []
    size = 0
    for record in records:
        if run and size + len(record) > piece_bytes:
            yield run
            run, size = [], 0
        run.append(bytes(record))
        size += len(record)
    if run:
        yield run
