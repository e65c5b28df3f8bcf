"""What the model is told about the data: the allowed tables' columns (from
`system.columns`), the SpanName taxonomy with counts, and the attribute keys that
actually occur (sampled from the newest rows per SpanName), with the values of the
few-valued ones (so "closing LOB" can become `SpanAttributes['order.lob'] = 'closing'`).
Sampled by the service itself, cached for a while, rendered as prompt text."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from exos_common.logs import get_logger
from exos_common.store import Store, StoreError, StoreUnavailable
from exos_insights import prompt_data

log = get_logger("exos.insights.grounding")

# Rows sampled per SpanName for its attribute keys; few-valued keys show their values.
PER_SPAN_NAME = 300
MAX_VALUES = 12
# Keys are sampled from the newest days of data only: partition pruning keeps the sample
# cheap on a large otel_traces (the taxonomy counts still cover everything).
SAMPLE_DAYS = 7
_SETTINGS = {"max_execution_time": 30, "readonly": 2}
# In the prompt: keys listed per SpanName, characters of a value, of a "name: count" item.
_KEYS_PER_SPAN_NAME = 60
_VALUED_KEYS = 100
_VALUE_CHARS = 60
_COUNTED_CHARS = prompt_data.MAX_ITEM_CHARS + 24


@dataclass(slots=True)
class Grounding:
    database: str
    columns: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    span_names: list[tuple[str, int]] = field(default_factory=list)
    span_keys: dict[str, list[str]] = field(default_factory=dict)
    resource_keys: list[str] = field(default_factory=list)
    log_keys: list[str] = field(default_factory=list)
    severities: list[tuple[str, int]] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)
    sampled_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "tables": {
                t: [{"name": n, "type": ty} for n, ty in cols] for t, cols in self.columns.items()
            },
            "span_names": [{"span_name": n, "spans": c} for n, c in self.span_names],
            "span_attribute_keys": self.span_keys,
            "resource_attribute_keys": self.resource_keys,
            "log_attribute_keys": self.log_keys,
            "severities": [{"severity": s, "logs": c} for s, c in self.severities],
            "attribute_values": self.values,
        }


def sample(store: Store, tables: frozenset[str], sample_rows: int) -> Grounding:
    grounding = Grounding(store.database, sampled_at=time.time())
    for row in store.query(
        "SELECT table, name, type FROM system.columns WHERE database = {db:String} "
        "AND table IN {tables:Array(String)} AND NOT startsWith(name, '__') "
        "ORDER BY table, position",
        {"db": store.database, "tables": sorted(tables)},
        settings=_SETTINGS,
    ):
        grounding.columns.setdefault(row["table"], []).append((row["name"], row["type"]))
    # A sample that fails (a timeout on a huge table) leaves the prompt with the schema
    # and whatever else was sampled, rather than failing every question.
    for table, sampler in (("otel_traces", _sample_traces), ("otel_logs", _sample_logs)):
        if table not in grounding.columns:
            continue
        try:
            sampler(store, grounding, sample_rows)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.warning("grounding_sample_failed", table=table, error=exc.message)
    return grounding


def _sample_traces(store: Store, grounding: Grounding, sample_rows: int) -> None:
    grounding.span_names = [
        (r["SpanName"], int(r["spans"]))
        for r in store.query(
            "SELECT SpanName, count() AS spans FROM otel_traces GROUP BY SpanName "
            "ORDER BY spans DESC, SpanName LIMIT 300",
            settings=_SETTINGS,
        )
    ]
    newest = (
        "(SELECT SpanName, SpanAttributes, ResourceAttributes FROM otel_traces "
        "WHERE Timestamp >= (SELECT max(Timestamp) FROM otel_traces) - INTERVAL {days:UInt32} DAY "
        "ORDER BY Timestamp DESC LIMIT {n:UInt32} BY SpanName LIMIT {total:UInt32})"
    )
    # Keys whose values identify someone or something are not listed, even when few.
    id_like = "(^|[._])(id|uid|email|ip|url|href|name|message|xpath)$"
    params: dict[str, object] = {
        "n": PER_SPAN_NAME,
        "total": sample_rows,
        "id_like": id_like,
        "days": SAMPLE_DAYS,
    }
    for r in store.query(
        f"SELECT SpanName, arraySort(groupUniqArrayArray(mapKeys(SpanAttributes))) AS keys "
        f"FROM {newest} GROUP BY SpanName ORDER BY SpanName",
        params,
        settings=_SETTINGS,
    ):
        grounding.span_keys[r["SpanName"]] = list(r["keys"])
    rows = store.query(
        f"SELECT arraySort(groupUniqArrayArray(mapKeys(ResourceAttributes))) AS keys FROM {newest}",
        params,
        settings=_SETTINGS,
    )
    grounding.resource_keys = list(rows[0]["keys"]) if rows else []
    for r in store.query(
        f"SELECT kv.1 AS key, arraySort(groupUniqArray({MAX_VALUES + 1})(kv.2)) AS values "
        f"FROM {newest} ARRAY JOIN SpanAttributes AS kv GROUP BY key "
        f"HAVING length(values) <= {MAX_VALUES} AND NOT match(key, {{id_like:String}}) "
        f"ORDER BY key",
        params,
        settings=_SETTINGS,
    ):
        grounding.values[r["key"]] = [v for v in r["values"] if v != ""]


def _sample_logs(store: Store, grounding: Grounding, sample_rows: int) -> None:
    grounding.severities = [
        (r["SeverityText"], int(r["logs"]))
        for r in store.query(
            "SELECT SeverityText, count() AS logs FROM otel_logs GROUP BY SeverityText "
            "ORDER BY logs DESC",
            settings=_SETTINGS,
        )
    ]
    rows = store.query(
        "SELECT arraySort(groupUniqArrayArray(mapKeys(LogAttributes))) AS keys FROM "
        "(SELECT LogAttributes FROM otel_logs ORDER BY Timestamp DESC LIMIT {n:UInt32})",
        {"n": sample_rows},
        settings=_SETTINGS,
    )
    grounding.log_keys = list(rows[0]["keys"]) if rows else []


# What one row of each known table is (the columns alone do not say).
TABLE_NOTES = {
    "otel_traces": "one row per span: clicks, HTTP calls, page loads, web vitals, long "
    "tasks, frustration signals and domain events (order.*, email.*, review.* ...); "
    "the primary analytics table",
    "otel_logs": "one row per browser console record (SeverityText, Body)",
    "hyperdx_sessions": "rrweb replay chunks; session_id, events and timestamp are the "
    "aliases for the session id, the JSON events and the time",
    "span_facts": "a narrow copy of every span with page, endpoint, HTTP status, vital and "
    "visitor as plain columns (faster than the Maps of otel_traces)",
    "session_summary": "one row per session after merges: always GROUP BY SessionId with "
    "min(Started), max(Ended), sum(Spans), sum(PageViews), sum(Errors), max(...) for the rest",
    "process_events": "one row per domain event of an order (OrderId, Activity = SpanName) "
    "with operator, line of business (Lob), vendor and client as columns",
}


def render(grounding: Grounding) -> str:
    """The grounding as prompt text: the tables' columns (from the schema), then what the
    telemetry holds as a quoted, capped data block (its names come from browsers)."""
    out = [f"Database: {grounding.database}. Tables you may read, with their columns:"]
    for table, cols in grounding.columns.items():
        note = f"  -- {TABLE_NOTES[table]}" if table in TABLE_NOTES else ""
        out.append(f"- {table}(" + ", ".join(f"{n} {t}" for n, t in cols) + ")" + note)
    observed = _observed(grounding)
    if observed:
        out.append("\nWhat the data holds: names, keys and values as stored.")
        out.append(prompt_data.fenced(observed))
    return "\n".join(out)


def _observed(grounding: Grounding) -> list[str]:
    """The telemetry-derived lines of the prompt, every item cleaned and every list capped."""
    out: list[str] = []
    if grounding.span_names:
        out.append("SpanName taxonomy of otel_traces (SpanName: spans):")
        named = [f"{prompt_data.clean(n)}: {c}" for n, c in grounding.span_names]
        out.append(", ".join(prompt_data.capped(named, max_chars=_COUNTED_CHARS)))
    if grounding.span_keys:
        common = set.intersection(*(set(k) for k in grounding.span_keys.values()))
        if common:
            out.append(
                "SpanAttributes keys present on every SpanName: "
                + ", ".join(prompt_data.capped(sorted(common)))
            )
        out.append(
            "Further SpanAttributes keys by SpanName (SpanAttributes['key'], values are strings):"
        )
        for name, keys in list(grounding.span_keys.items())[: prompt_data.MAX_ITEMS]:
            extra = [k for k in keys if k not in common]
            if extra:
                listed = prompt_data.capped(extra, _KEYS_PER_SPAN_NAME)
                out.append(f"- {prompt_data.clean(name)}: " + ", ".join(listed))
    if grounding.resource_keys:
        keys = prompt_data.capped(grounding.resource_keys)
        out.append("ResourceAttributes keys: " + ", ".join(keys))
    if grounding.values:
        out.append("Values of few-valued attributes:")
        for key, values in list(grounding.values.items())[:_VALUED_KEYS]:
            shown_values = [repr(prompt_data.clean(v, _VALUE_CHARS)) for v in values[:MAX_VALUES]]
            out.append(f"- {prompt_data.clean(key)}: " + ", ".join(shown_values))
        if len(grounding.values) > _VALUED_KEYS:
            out.append(f"(and {len(grounding.values) - _VALUED_KEYS} more keys)")
    if grounding.severities:
        severities = [
            f"{prompt_data.clean(s, _VALUE_CHARS)!r}: {c}"
            for s, c in grounding.severities[: prompt_data.MAX_ITEMS]
        ]
        out.append("otel_logs SeverityText values: " + ", ".join(severities))
    if grounding.log_keys:
        out.append(
            "otel_logs LogAttributes keys: " + ", ".join(prompt_data.capped(grounding.log_keys))
        )
    return out


class GroundingCache:
    """One sample per `ttl_s`, shared by the requests of this process (it is derived
    from the data, so every replica may hold its own)."""

    def __init__(self, tables: frozenset[str], sample_rows: int, ttl_s: float) -> None:
        self.tables = tables
        self.sample_rows = sample_rows
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: Grounding | None = None

    def get(self, store: Store) -> Grounding:
        with self._lock:
            cached = self._cached
            if cached is None or time.time() - cached.sampled_at > self.ttl_s:
                cached = self._cached = sample(store, self.tables, self.sample_rows)
            return cached
