"""Attribute maps and free texts cut to the limits, with a tally of what was cut.

One `Bounder` serves one request: `corrections` counts, by reason, every attribute
dropped, every value truncated and every value nested too deeply, so the request's
metrics say how much of what the sender meant was not stored as sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from exos_ingest.anyvalue import TooDeep, as_string
from exos_ingest.limits import Limits


class Bounder:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.corrections: Counter[str] = Counter()

    def attributes(self, pairs: Sequence[KeyValue]) -> dict[str, str]:
        """The first `max_attributes` distinct keys (a repeated key keeps its last value,
        as pdata does); over-long keys dropped, over-long values truncated."""
        # The hottest loop of ingest (every attribute of every record): strings and ints,
        # nearly all values, are rendered inline.
        limits = self.limits
        max_attributes = limits.max_attributes
        max_key = limits.max_attribute_key_chars
        max_value = limits.max_attribute_value_chars
        out: dict[str, str] = {}
        for pair in pairs:
            key = pair.key
            if len(key) > max_key:
                self.corrections["attribute_key_too_long"] += 1
                continue
            if len(out) >= max_attributes and key not in out:
                self.corrections["attributes_over_limit"] += 1
                continue
            value = pair.value
            kind = value.WhichOneof("value")
            if kind == "string_value":
                text = value.string_value
            elif kind == "int_value":
                text = str(value.int_value)
            else:
                text = self._render(value)
            if len(text) > max_value:
                self.corrections["value_truncated"] += 1
                text = text[:max_value]
            out[key] = text
        return out

    def _render(self, value: AnyValue) -> str:
        try:
            return as_string(value, self.limits.max_anyvalue_depth)
        except TooDeep:
            self.corrections["anyvalue_too_deep"] += 1
            return ""

    def text(self, text: str, limit: int | None = None) -> str:
        limit = self.limits.max_attribute_value_chars if limit is None else limit
        if len(text) <= limit:
            return text
        self.corrections["value_truncated"] += 1
        return text[:limit]

    def body(self, value: AnyValue) -> str:
        """A log body is not cut (a replay chunk is up to ~1 MB; the bus message limit
        bounds it), but its nesting is."""
        return self._render(value)
