"""OTLP/HTTP response bodies, in the encoding of the request.

Success is the signal's `Export*ServiceResponse` (with `partial_success` only when
something was rejected). Failures are a `google.rpc.Status`, protobuf-encoded for
protobuf requests and JSON-encoded (`{"code": 3, "message": "...", "details": [...]}`)
for JSON requests: the OTLP spec requires a Status for every 4xx/5xx, which is stricter
than the EXOS `{"error": ...}` envelope, so the OTLP routes follow the spec (as the
OpenTelemetry Collector does) and the envelope stays for every other route.
"""

from __future__ import annotations

import orjson
from fastapi import Response
from google.protobuf import duration_pb2, json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from exos_ingest.otlp_decode import Encoding, Signal

PROTOBUF_MEDIA_TYPE = "application/x-protobuf"
JSON_MEDIA_TYPE = "application/json"

_REJECTED_FIELD = {
    "traces": "rejected_spans",
    "logs": "rejected_log_records",
    "metrics": "rejected_data_points",
}

# gRPC codes for the HTTP statuses ingest answers (the spec leaves Status.code free;
# these are the ones the Collector's receiver uses for the same situations).
_GRPC_CODE = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    413: code_pb2.INVALID_ARGUMENT,
    415: code_pb2.UNIMPLEMENTED,
    429: code_pb2.RESOURCE_EXHAUSTED,
    500: code_pb2.INTERNAL,
    503: code_pb2.UNAVAILABLE,
}


def _encode(message: Message, encoding: Encoding | None) -> tuple[bytes, str]:
    if encoding is Encoding.PROTOBUF:
        return message.SerializeToString(), PROTOBUF_MEDIA_TYPE
    as_dict = json_format.MessageToDict(message)
    return orjson.dumps(as_dict), JSON_MEDIA_TYPE


def export_response(signal: Signal, encoding: Encoding, rejected: int, message: str) -> Response:
    """200 with `Export*ServiceResponse`; `partial_success` set only when records were
    rejected (the spec says to leave it unset on full success)."""
    response = signal.response()
    if rejected:
        partial = response.partial_success
        setattr(partial, _REJECTED_FIELD[signal.name], rejected)
        partial.error_message = message
    body, media_type = _encode(response, encoding)
    return Response(body, status_code=200, media_type=media_type)


def status_response(
    encoding: Encoding | None,
    status: int,
    message: str,
    *,
    retry_after_s: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A failure: `google.rpc.Status` in the request's encoding (JSON when the request's
    own encoding is unknown). 400s carry a `BadRequest` detail, 503s a `RetryInfo`
    matching the `Retry-After` header."""
    rpc_status = status_pb2.Status(code=_GRPC_CODE.get(status, code_pb2.UNKNOWN), message=message)
    if status == 400:
        detail = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="body", description=message)
            ]
        )
        rpc_status.details.add().Pack(detail)
    all_headers = dict(headers or {})
    if retry_after_s is not None:
        retry = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=retry_after_s)
        )
        rpc_status.details.add().Pack(retry)
        all_headers["Retry-After"] = str(retry_after_s)
    body, media_type = _encode(rpc_status, encoding)
    return Response(body, status_code=status, media_type=media_type, headers=all_headers)
