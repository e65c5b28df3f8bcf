"""`POST /v1/traces`, `/v1/logs`, `/v1/metrics`: the OTLP/HTTP receiver.

One request is: authenticate -> the key's record rate (429 while its bucket is in debt)
-> media type -> a slot (429 when none frees up) ->
bounded body -> on a worker thread: bounded decompression -> decode -> flatten and
validate -> clock correction -> route -> back on the loop: ONE `publish_many` -> answer.
The answer is 200 only once the bus has acknowledged every record of the request; a
bus that does not acknowledge makes the whole request a 503 with `Retry-After`, so the
sender retries instead of losing data (a retry may duplicate what the broker got before it
failed: at-least-once).
Metrics are decoded and acknowledged but not stored yet.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from exos_common.bus import Bus, BusError, BusFull, RecordTooLarge
from exos_common.codec import record_count
from exos_common.logs import get_logger
from exos_common.service.keys import ApiKeys, presented_key
from exos_ingest.api.responses import (
    JSON_MEDIA_TYPE,
    PROTOBUF_MEDIA_TYPE,
    export_response,
    status_response,
)
from exos_ingest.client_context import client_context
from exos_ingest.errors import IngestError
from exos_ingest.flatten import Flattened
from exos_ingest.limits import Limits
from exos_ingest.metrics import IngestMetrics
from exos_ingest.offload import DecodeSlots
from exos_ingest.otlp_decode import LOGS, METRICS, TRACES, Encoding, Signal, encoding_of
from exos_ingest.pipeline import PipelineLimits, RequestBody, prepare
from exos_ingest.rate_limit import RecordRateLimiter
from exos_ingest.settings import IngestSettings

log = get_logger("exos_ingest")

METRICS_NOT_STORED = (
    "metrics are not stored: EXOS stores traces, logs and session replays; "
    "send metrics to a metrics backend"
)
_NOUNS = {"traces": "spans", "logs": "log records", "metrics": "data points"}


async def read_body(request: Request, limit: int) -> bytes:
    """The body as sent, refused with 413 as soon as it passes `limit` (by its declared
    length before reading anything, or while streaming when the length is not given)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(len(body), limit)
    return bytes(body)


def _too_large(size: int, limit: int) -> IngestError:
    return IngestError(
        413,
        "body_too_large",
        f"request body of {size}+ bytes exceeds {limit} bytes (EXOS_INGEST_MAX_BODY_BYTES); "
        "send smaller batches",
    )


class OtlpReceiver:
    def __init__(
        self,
        settings: IngestSettings,
        bus: Bus,
        metrics: IngestMetrics,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._bus = bus
        self._metrics = metrics
        self._keys = ApiKeys(settings.api_keys)
        self.rate = RecordRateLimiter(
            settings.ingest_rate_limit_records_per_s, settings.rate_limit_burst
        )
        self._proxies = settings.trusted_proxies
        self._limits = PipelineLimits(
            max_decompressed_bytes=settings.ingest_max_decompressed_bytes,
            max_json_bytes=settings.ingest_max_json_bytes,
            max_message_bytes=settings.kafka_max_message_bytes,
            records=Limits.from_settings(settings),
        )
        self.slots = DecodeSlots(
            settings.ingest_max_concurrent_requests,
            settings.ingest_decode_workers,
            settings.ingest_queue_wait_s,
            settings.ingest_retry_after_s,
        )

    async def handle(self, signal: Signal, request: Request) -> Response:
        received_at_ns = self._clock()
        encoding = _encoding_or_none(request.headers.get("content-type"))
        try:
            response = await self._export(signal, request, received_at_ns)
        except IngestError as exc:
            response = self._refuse(signal, encoding, exc)
        except Exception:
            log.exception("otlp_export_failed", signal=signal.name)
            self._metrics.errors.labels(signal.name, "internal").inc()
            response = status_response(
                encoding, 500, "internal error; the request was not accepted"
            )
        self._metrics.requests.labels(
            signal.name, encoding or "unknown", str(response.status_code)
        ).inc()
        return response

    async def _export(self, signal: Signal, request: Request, received_at_ns: int) -> Response:
        if not self._keys.allows(request.headers.get("authorization")):
            raise IngestError(
                401,
                "unauthorized",
                "missing or unknown API key: send `authorization: <key>` "
                "or `Authorization: Bearer <key>`",
            )
        sender = self._sender(request.headers.get("authorization"))
        self._admit(sender)
        encoding = encoding_of(request.headers.get("content-type"))
        async with self.slots.slot():
            body = await read_body(request, self._settings.ingest_max_body_bytes)
            self._metrics.request_bytes.labels(signal.name).observe(len(body))
            client = client_context(
                request.headers,
                request.client.host if request.client else None,
                self._proxies,
                received_at_ns,
                forwarded_for=",".join(request.headers.getlist("x-forwarded-for")),
            )
            work = RequestBody(
                signal,
                encoding,
                body,
                request.headers.get("content-encoding"),
                client,
                request_key=uuid.uuid4().hex,
            )
            del body
            prepared = await self.slots.run(prepare, work, self._limits)
            # The admission paid for one record.
            self.rate.charge(sender, max(prepared.flat.received, prepared.data_points) - 1)
            if signal is METRICS:
                # Refused in partial_success, never acknowledged and dropped: a sender
                # (and its operator) sees that no metric is stored, and does not retry.
                self._metrics.records_dropped.labels(signal.name, "metrics_not_stored").inc(
                    prepared.data_points
                )
                return export_response(signal, encoding, prepared.data_points, METRICS_NOT_STORED)
            if prepared.outgoing:
                await self._publish(prepared.outgoing)
        return self._answer(signal, encoding, prepared.flat)

    def _sender(self, authorization: str | None) -> str:
        """Whose bucket a request draws on: its (already accepted) key, or one shared
        bucket when ingest is open, so made-up keys cannot each get a fresh one."""
        return presented_key(authorization) if self._keys.enforced else ""

    def _admit(self, sender: str) -> None:
        """Turns the request away before its body is read while the sender's bucket is in
        debt; otherwise charges the one record every request costs (an empty or broken
        body is not free)."""
        wait_s = self.rate.wait_s(sender)
        if wait_s:
            raise IngestError(
                429,
                "rate_limited",
                f"this API key sent more than {self.rate.rate_per_s:g} records/s "
                "(EXOS_INGEST_RATE_LIMIT_RECORDS_PER_S); retry later",
                retry_after_s=wait_s,
            )
        self.rate.charge(sender, 1)

    async def _publish(self, outgoing: list[Any]) -> None:
        started = time.perf_counter()
        try:
            await self._bus.publish_many(outgoing)
        except RecordTooLarge as exc:
            raise IngestError(
                413, "record_too_large", f"a record exceeds the bus message limit: {exc}"
            ) from exc
        except BusFull as exc:  # the pipeline is behind: the sender retries later
            log.warning("bus_full", error=str(exc), records=len(outgoing))
            raise IngestError(
                503,
                "bus_full",
                "the event bus is full until the pipeline catches up; nothing was accepted, "
                "retry later",
                retry_after_s=self._settings.ingest_retry_after_s,
            ) from exc
        except BusError as exc:
            log.warning("bus_unavailable", error=str(exc), records=len(outgoing))
            raise IngestError(
                503,
                "bus_unavailable",
                "the event bus did not acknowledge the records; nothing was accepted, retry later",
                retry_after_s=self._settings.ingest_retry_after_s,
            ) from exc
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        published: Counter[str] = Counter()
        for record in outgoing:
            published[record.topic] += record_count(record.headers)
        for topic, count in published.items():
            self._metrics.records_published.labels(topic).inc(count)

    def _answer(self, signal: Signal, encoding: Encoding, flat: Flattened) -> Response:
        rejected = flat.rejected_count
        self._metrics.records_accepted.labels(signal.name).inc(flat.received - rejected)
        for reason, count in flat.corrected.items():
            self._metrics.records_corrected.labels(signal.name, reason).inc(count)
        if not rejected:
            return export_response(signal, encoding, 0, "")
        for reason, count in flat.rejected.items():
            self._metrics.records_dropped.labels(signal.name, reason).inc(count)
        message = flat.rejection_message(_NOUNS[signal.name])
        log.info("otlp_partial_success", signal=signal.name, rejected=rejected, why=message)
        return export_response(signal, encoding, rejected, message)

    def _refuse(self, signal: Signal, encoding: Encoding | None, exc: IngestError) -> Response:
        self._metrics.errors.labels(signal.name, exc.reason).inc()
        if exc.status >= 500:
            log.warning("otlp_refused", signal=signal.name, status=exc.status, reason=exc.reason)
        else:
            log.info(
                "otlp_refused",
                signal=signal.name,
                status=exc.status,
                reason=exc.reason,
                why=exc.message[:300],
            )
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return status_response(
            encoding, exc.status, exc.message, retry_after_s=exc.retry_after_s, headers=headers
        )


def _encoding_or_none(content_type: str | None) -> Encoding | None:
    try:
        return encoding_of(content_type)
    except IngestError:
        return None


_STATUS_BODY = {
    PROTOBUF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    JSON_MEDIA_TYPE: {"schema": {"type": "object"}},
}


def _openapi(signal: Signal) -> dict[str, Any]:
    request = signal.request.DESCRIPTOR.full_name
    response = signal.response.DESCRIPTOR.full_name
    failure = {"description": "`google.rpc.Status`", "content": _STATUS_BODY}
    return {
        "requestBody": {
            "required": True,
            "description": f"`{request}`, binary protobuf or OTLP/JSON; optionally gzip or "
            "deflate (`Content-Encoding`).",
            "content": _STATUS_BODY,
        },
        "responses": {
            "200": {"description": f"`{response}` (accepted, maybe partially)"},
            "400": {**failure, "description": "Malformed body (`google.rpc.Status`)"},
            "401": {**failure, "description": "Missing or unknown API key"},
            "413": {**failure, "description": "Body too large, compressed or decompressed"},
            "415": {**failure, "description": "Unsupported Content-Type or Content-Encoding"},
            "429": {
                **failure,
                "description": "Too many concurrent requests, or the API key's record rate "
                "is used up; see Retry-After",
            },
            "503": {
                **failure,
                "description": "The bus did not acknowledge (Kafka down) or is full "
                "(all-in-one); see Retry-After",
            },
        },
    }


def otlp_router(receiver: OtlpReceiver) -> APIRouter:
    router = APIRouter(tags=["otlp"])

    def endpoint(signal: Signal) -> Callable[[Request], Awaitable[Response]]:
        async def export(request: Request) -> Response:
            return await receiver.handle(signal, request)

        export.__name__ = f"export_{signal.name}"
        return export

    summaries = {
        TRACES: "Export spans (OTLP/HTTP)",
        LOGS: "Export log records and rrweb replay chunks (OTLP/HTTP)",
        METRICS: "Export metrics (OTLP/HTTP): not stored; every data point is reported rejected",
    }
    for signal, summary in summaries.items():
        router.add_api_route(
            f"/v1/{signal.name}",
            endpoint(signal),
            methods=["POST"],
            summary=summary,
            response_class=Response,
            openapi_extra=_openapi(signal),
        )
    return router
