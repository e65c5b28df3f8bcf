"""Browser clocks are wrong; the tables' TTL is not forgiving. Every record's time is
made one the tables keep, and a wrong browser clock is corrected when it can be told.

The HyperDX browser SDK sends no send time (no header, no attribute), so the skew is
estimated from the request itself: the SDK exports within seconds of a span ending or
a log being written (batch delays of 4 s and 5 s) and keeps no queue across page loads,
so the median end time of one session's records in one request is that browser's "now"
to within seconds. A session whose median lies beyond the future tolerance, or so far
in the past that its records would be deleted on insert, is shifted as a whole by the
difference (relative order kept), as PostHog does with its `sent_at`. Smaller lags are
left alone: a tab that slept for hours legitimately sends old spans.

Records without a session (server SDKs may replay old backlogs) get no shift. After the
shift, a timestamp still too far ahead is clamped to the receive time, and one older
than its table's retention is dropped and reported instead of vanishing silently.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Hashable

from exos_common.codec import PipelineRecord
from exos_common.messages import ReplayChunk, SpanRecord
from exos_ingest.flatten import MAX_TIMESTAMP_NS, Flattened
from exos_ingest.limits import NS_PER_DAY, NS_PER_S, Limits

# Room for the writer's batching and consumer lag between now and the insert.
INSERT_MARGIN_NS = 3600 * NS_PER_S


def retention_cutoffs(received_at_ns: int, limits: Limits) -> dict[type, int]:
    """The oldest timestamp each table still keeps after an insert soon after now.
    `otel_traces` ages by day (`toDate(Timestamp) + days`), so a span must fall on a day
    that is not yet due; the log tables age by the second."""
    soon = received_at_ns + INSERT_MARGIN_NS
    day_start = soon - soon % NS_PER_DAY
    return {
        SpanRecord: day_start - (limits.retention_traces_days - 1) * NS_PER_DAY,
        ReplayChunk: soon - limits.retention_sessions_days * NS_PER_DAY,
        # LogRecord and anything else on otel_logs:
        object: soon - limits.retention_logs_days * NS_PER_DAY,
    }


def _cutoff(record: PipelineRecord, cutoffs: dict[type, int]) -> int:
    return cutoffs.get(type(record), cutoffs[object])


def _end_time(record: PipelineRecord) -> int:
    if isinstance(record, SpanRecord):
        return record.timestamp_ns + record.duration_ns
    return record.timestamp_ns


def _origin(record: PipelineRecord) -> Hashable:
    # A console.error span travels as a span and a log record; both are one span sent.
    if record.trace_id and record.span_id:
        return (record.trace_id, record.span_id)
    return id(record)


def correct_clocks(flat: Flattened, received_at_ns: int, limits: Limits) -> None:
    """Shift skewed browser sessions, clamp the future, drop the expired (in place)."""
    cutoffs = retention_cutoffs(received_at_ns, limits)
    by_session: dict[str, list[PipelineRecord]] = defaultdict(list)
    for record in flat.records:
        by_session[record.session_id].append(record)
    for session_id, records in by_session.items():
        if session_id:
            _shift_skewed(records, received_at_ns, limits, cutoffs, flat)
    kept: list[PipelineRecord] = []
    expired: set[Hashable] = set()
    latest = received_at_ns + limits.clock_tolerance_ns
    for record in flat.records:
        if record.timestamp_ns > latest:
            record.timestamp_ns = received_at_ns
            flat.corrected["future_clamped"] += 1
        elif record.timestamp_ns < _cutoff(record, cutoffs):
            expired.add(_origin(record))
            continue
        if isinstance(record, SpanRecord):
            _fit_events(record, flat)
        kept.append(record)
    flat.records = kept
    if expired:
        flat.reject("expired", len(expired))


def _shift_skewed(
    records: list[PipelineRecord],
    received_at_ns: int,
    limits: Limits,
    cutoffs: dict[type, int],
    flat: Flattened,
) -> None:
    times = [t for t in map(_end_time, records) if 0 < t <= MAX_TIMESTAMP_NS]
    if not times:
        return
    browser_now = statistics.median_low(times)
    oldest_kept = max(_cutoff(record, cutoffs) for record in records)
    if browser_now > received_at_ns + limits.clock_tolerance_ns:
        reason = "clock_ahead"
    elif browser_now < oldest_kept:
        reason = "clock_behind"
    else:
        return
    skew = browser_now - received_at_ns
    for record in records:
        record.timestamp_ns -= skew
        if isinstance(record, SpanRecord):
            for event in record.events:
                event.timestamp_ns -= skew
    flat.corrected[reason] += len(records)


def _fit_events(span: SpanRecord, flat: Flattened) -> None:
    # Events.Timestamp is DateTime64(9) too; an event time it cannot hold becomes the
    # span's start rather than failing the insert.
    for event in span.events:
        if not 0 <= event.timestamp_ns <= MAX_TIMESTAMP_NS:
            event.timestamp_ns = span.timestamp_ns
            flat.corrected["event_time"] += 1
