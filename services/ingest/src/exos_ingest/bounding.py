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
        limits = self.limits
        out: dict[str, str] = {}
        for pair in pairs:
            key = pair.key
            if len(key) > limits.max_attribute_key_chars:
                self.corrections["attribute_key_too_long"] += 1
                continue
            if key not in out and len(out) >= limits.max_attributes:
                self.corrections["attributes_over_limit"] += 1
                continue
            out[key] = self.value(pair.value)
        return out

    def value(self, value: AnyValue) -> str:
        try:
            text = as_string(value, self.limits.max_anyvalue_depth)
        except TooDeep:
            self.corrections["anyvalue_too_deep"] += 1
            return ""
        return self.text(text)

    def text(self, text: str, limit: int | None = None) -> str:
        limit = self.limits.max_attribute_value_chars if limit is None else limit
        if len(text) <= limit:
            return text
        self.corrections["value_truncated"] += 1
        return text[:limit]

    def body(self, value: AnyValue) -> str:
        """A log body is not cut (a replay chunk is up to ~1 MB; the bus message limit
        bounds it), but its nesting is."""
        try:
            return as_string(value, self.limits.max_anyvalue_depth)
        except TooDeep:
            self.corrections["anyvalue_too_deep"] += 1
            return ""
