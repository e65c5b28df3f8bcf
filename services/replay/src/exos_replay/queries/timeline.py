"""One session's spans and logs: the five drill-down tabs (docs/replay.md, with
their SpanName filters), the pages visited, and the activity the heatbar weighs.

Every query is bounded by the session's time window from the summary (partition and
primary-key pruning) and by its session id (otel_traces' bloom-filtered materialized
`__hdx_materialized_rum.sessionId`). Each row carries its absolute time in ns; the
router turns it into `offset_ms = time - first rrweb event time`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from exos_common.store import Store

Tab = Literal["events", "network", "console", "errors", "perf"]
TABS: tuple[Tab, ...] = ("events", "network", "console", "errors", "perf")

MARGIN_NS = 60 * 1_000_000_000  # spans may be stamped a little outside the replay


@dataclass(frozen=True, slots=True)
class Window:
    session_id: str
    start_ns: int
    end_ns: int

    def parameters(self) -> dict[str, Any]:
        return {
            "session": self.session_id,
            "from_ns": self.start_ns - MARGIN_NS,
            "to_ns": self.end_ns + MARGIN_NS,
        }


_TRACES_OF_SESSION = """
FROM otel_traces
WHERE `__hdx_materialized_rum.sessionId` = {session:String}
  AND Timestamp BETWEEN fromUnixTimestamp64Nano({from_ns:Int64})
                    AND fromUnixTimestamp64Nano({to_ns:Int64})
"""
_LOGS_OF_SESSION = """
FROM otel_logs
WHERE ResourceAttributes['rum.sessionId'] = {session:String}
  AND Timestamp BETWEEN fromUnixTimestamp64Nano({from_ns:Int64})
                    AND fromUnixTimestamp64Nano({to_ns:Int64})
"""

EVENTS_TAB = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, SpanName AS name,
    SpanAttributes['target_element'] AS target_element,
    SpanAttributes['target_xpath'] AS target_xpath,
    SpanAttributes['location.href'] AS href,
    SpanAttributes['visibility.state'] AS visibility
{_TRACES_OF_SESSION}
  AND (SpanName IN ('click', 'mousedown', 'mouseup', 'visibility') OR startsWith(SpanName, 'page.'))
ORDER BY Timestamp, SpanId
LIMIT {{limit:UInt32}}
"""

NETWORK_TAB = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, SpanName AS name,
    SpanAttributes['http.method'] AS method,
    if(SpanAttributes['http.url'] != '', SpanAttributes['http.url'], SpanAttributes['url'])
        AS url,
    toUInt16OrZero(SpanAttributes['http.status_code']) AS status,
    Duration / 1e6 AS duration_ms, StatusCode AS status_code
{_TRACES_OF_SESSION}
  AND SpanName IN ('HTTP POST', 'HTTP GET', 'resourceFetch')
ORDER BY Timestamp, SpanId
LIMIT {{limit:UInt32}}
"""

CONSOLE_TAB = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, SeverityText AS level, Body AS message,
    LogAttributes['location.href'] AS href
{_LOGS_OF_SESSION}
ORDER BY Timestamp
LIMIT {{limit:UInt32}}
"""

# Error logs, plus error-status spans that have no error log of their own (ingest writes
# a browser error both as a span and as a log record with the same span id).
ERRORS_TAB = f"""
SELECT ts_ns, source, name, message FROM (
    SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, 'log' AS source,
        SeverityText AS name, Body AS message, SpanId AS span_id
    {_LOGS_OF_SESSION}
      AND SeverityText = 'error'
    UNION ALL
    SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, 'span' AS source, SpanName AS name,
        if(StatusMessage != '', StatusMessage, SpanAttributes['error.message']) AS message,
        SpanId AS span_id
    {_TRACES_OF_SESSION}
      AND StatusCode = 'Error'
      AND SpanId NOT IN (
          SELECT SpanId {_LOGS_OF_SESSION} AND SeverityText = 'error' AND SpanId != '')
)
ORDER BY ts_ns, source
LIMIT {{limit:UInt32}}
"""

PERF_TAB = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, SpanName AS name,
    Duration / 1e6 AS duration_ms,
    arrayStringConcat(arrayMap(k -> concat(k, '=', SpanAttributes[k]),
        arrayFilter(k -> k IN ('lcp', 'fid', 'inp', 'cls', 'ttfb', 'fcp'),
            mapKeys(SpanAttributes))), ' ') AS metrics,
    SpanAttributes['location.href'] AS href
{_TRACES_OF_SESSION}
  AND SpanName IN ('webvitals', 'longtask', 'documentLoad')
ORDER BY Timestamp, SpanId
LIMIT {{limit:UInt32}}
"""

TAB_SQL: dict[Tab, str] = {
    "events": EVENTS_TAB,
    "network": NETWORK_TAB,
    "console": CONSOLE_TAB,
    "errors": ERRORS_TAB,
    "perf": PERF_TAB,
}

PAGES = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, SpanName AS name,
    SpanAttributes['location.href'] AS href
{_TRACES_OF_SESSION}
  AND SpanName IN ('documentLoad', 'routeChange')
ORDER BY Timestamp
"""

# What the heatbar weighs or marks (names outside WEIGHTS weigh nothing).
HEATBAR_SPANS = f"""
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, toString(SpanName) AS name,
    toUInt8(StatusCode = 'Error') AS is_error,
    if(StatusCode = 'Error', if(StatusMessage != '', StatusMessage, SpanName),
       SpanAttributes['location.href']) AS label
{_TRACES_OF_SESSION}
  AND (SpanName IN ('click', 'mousedown', 'HTTP POST', 'HTTP GET', 'resourceFetch',
                    'longtask', 'documentLoad', 'routeChange', 'rage_click')
       OR startsWith(SpanName, 'page.') OR StatusCode = 'Error')
UNION ALL
SELECT toUnixTimestamp64Nano(Timestamp) AS ts_ns, 'console.error' AS name,
    toUInt8(1) AS is_error, Body AS label
{_LOGS_OF_SESSION}
  AND SeverityText = 'error'
  AND SpanId NOT IN (
      SELECT SpanId {_TRACES_OF_SESSION} AND StatusCode = 'Error' AND SpanId != '')
"""


def tab_rows(store: Store, window: Window, tab: Tab, limit: int) -> list[dict[str, Any]]:
    return store.query(TAB_SQL[tab], {**window.parameters(), "limit": limit})


def pages(store: Store, window: Window) -> list[dict[str, Any]]:
    return store.query(PAGES, window.parameters())


def heatbar_spans(store: Store, window: Window) -> list[dict[str, Any]]:
    return store.query(HEATBAR_SPANS, window.parameters())
