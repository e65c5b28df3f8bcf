"""Settings of the ingest service: the Kafka and runtime groups plus its own `ingest_*`
fields, all read from `EXOS_*` variables."""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from exos_common.settings import KafkaSettings, RetentionSettings, RuntimeSettings, split_list

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# What a browser sends as `Origin`: scheme, host (or [IPv6]), optional port; no path, no
# trailing slash, no wildcard inside (it would never match: origins compare exactly).
_ORIGIN = re.compile(
    r"[a-z][a-z0-9+.-]*://(\[[0-9a-f:.]+\]|[^/\s:*\[\]]+)(:[0-9]{1,5})?", re.IGNORECASE
)


class IngestSettings(KafkaSettings, RetentionSettings, RuntimeSettings):
    """The OTLP/HTTP receiver: who may send, how much, and from behind which proxies."""

    model_config = SettingsConfigDict(env_prefix="EXOS_", extra="ignore", env_ignore_empty=True)

    ingest_api_keys: str | None = Field(
        None,
        description="Comma-separated API keys accepted on `/v1/*` (the SDK's `apiKey`, sent as "
        "`authorization: <key>` or `Bearer <key>`). Unset: `exos serve ingest` refuses to start "
        "unless EXOS_INGEST_ALLOW_ANONYMOUS=true; `exos up` runs open (a warning is logged).",
    )
    ingest_allow_anonymous: bool = Field(
        False,
        description="`true` lets `exos serve ingest` run without EXOS_INGEST_API_KEYS: anyone "
        "who reaches it can send data (a warning is logged).",
    )
    ingest_max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body as sent (compressed); larger requests get 413.",
    )
    ingest_max_decompressed_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest body after gzip/deflate decompression (gzip-bomb guard); 413 above.",
    )
    ingest_max_json_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest decompressed OTLP/JSON body; 413 above. JSON costs far more CPU "
        "per byte than protobuf (the HyperDX SDK's JSON exports are a few KB).",
    )
    ingest_trusted_proxies: str | None = Field(
        None,
        description="Comma-separated CIDRs of reverse proxies whose `X-Forwarded-For` is "
        "believed (e.g. `10.0.0.0/8`). Empty: the client IP is the TCP peer.",
    )
    ingest_cors_origins: str | None = Field(
        None,
        description="Comma-separated origins allowed to post from browsers, e.g. "
        "`https://app.example.com` (`*`: any, explicitly). Unset: `exos up` allows any origin; "
        "`exos serve ingest` allows none (browsers get no CORS grant).",
    )
    ingest_cors_max_age_s: int = Field(
        7200, ge=0, description="How long browsers may cache a CORS preflight answer."
    )
    ingest_retry_after_s: int = Field(
        5, ge=1, description="`Retry-After` seconds sent with 503 when Kafka does not acknowledge."
    )

    ingest_rate_limit_records_per_s: float = Field(
        0,
        ge=0,
        description="Records (spans, log records, data points) per second each API key may "
        "send, per ingest replica; over it requests get 429 with `Retry-After`. 0: no limit.",
    )
    ingest_rate_limit_burst: int = Field(
        0,
        ge=0,
        description="Records a key may send at once above its rate (its bucket's size). "
        "0: one second's worth of EXOS_INGEST_RATE_LIMIT_RECORDS_PER_S.",
    )

    ingest_max_concurrent_requests: int = Field(
        8,
        ge=1,
        description="Requests read, decoded and published at once; each holds its body in "
        "memory, so this bounds ingest's memory under a flood.",
    )
    ingest_decode_workers: int = Field(
        2,
        ge=1,
        description="Threads that decode, validate and flatten requests off the event loop.",
    )
    ingest_queue_wait_s: float = Field(
        1.0,
        ge=0,
        description="How long a request waits for one of the concurrent slots before 429 "
        "with `Retry-After`.",
    )
    ingest_max_spans_per_request: int = Field(
        10_000, ge=1, description="Spans kept per request; the rest are rejected (partial_success)."
    )
    ingest_max_logs_per_request: int = Field(
        10_000,
        ge=1,
        description="Log records (replay chunks included) kept per request; the rest are "
        "rejected (partial_success).",
    )
    ingest_max_attributes: int = Field(
        128,
        ge=1,
        description="Attributes kept per span, event, link, log record, scope and resource; "
        "the rest are dropped (counted).",
    )
    ingest_max_attribute_value_chars: int = Field(
        4096,
        ge=16,
        description="Longer attribute values (and names, messages, severity texts) are truncated.",
    )
    ingest_max_attribute_key_chars: int = Field(
        256, ge=1, description="Attributes with a longer key are dropped (counted)."
    )
    ingest_max_span_name_chars: int = Field(
        1024, ge=16, description="Longer span and event names are truncated."
    )
    ingest_max_events_per_span: int = Field(
        128, ge=0, description="Events kept per span; the rest are dropped (counted)."
    )
    ingest_max_links_per_span: int = Field(
        128, ge=0, description="Links kept per span; the rest are dropped (counted)."
    )
    ingest_max_anyvalue_depth: int = Field(
        16,
        ge=1,
        description="Deepest nesting of array/kvlist attribute values; a deeper value is "
        "stored as an empty string (counted).",
    )
    ingest_clock_tolerance_s: int = Field(
        300,
        ge=1,
        description="How far in the future (by the receive time) a timestamp may be before "
        "the sender's clock is corrected or the timestamp clamped.",
    )

    @field_validator("ingest_trusted_proxies")
    @classmethod
    def _valid_cidrs(cls, value: str | None) -> str | None:
        for cidr in split_list(value):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"EXOS_INGEST_TRUSTED_PROXIES: {cidr!r} is not a CIDR") from exc
        return value

    @field_validator("ingest_cors_origins")
    @classmethod
    def _valid_origins(cls, value: str | None) -> str | None:
        for origin in split_list(value):
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"EXOS_INGEST_CORS_ORIGINS: {origin!r} is not an origin "
                    "(scheme://host[:port], no path) nor `*`"
                )
        return value

    @property
    def api_keys(self) -> list[str]:
        return split_list(self.ingest_api_keys)

    @property
    def trusted_proxies(self) -> list[IPNetwork]:
        return [
            ipaddress.ip_network(c, strict=False) for c in split_list(self.ingest_trusted_proxies)
        ]

    def cors_origins(self, *, distributed: bool) -> list[str]:
        """The configured origins; unset, any origin on localhost (`exos up`) and none in
        distributed mode, where the deployment must name the sites that embed the SDK."""
        if self.ingest_cors_origins is None:
            return [] if distributed else ["*"]
        return split_list(self.ingest_cors_origins)

    @property
    def rate_limit_burst(self) -> float:
        return float(self.ingest_rate_limit_burst or self.ingest_rate_limit_records_per_s)


def refuse_anonymous_distributed(settings: IngestSettings) -> None:
    """Distributed ingest faces the internet: without keys it must be opened on purpose."""
    if not settings.api_keys and not settings.ingest_allow_anonymous:
        raise ValueError(
            "ingest refuses to start without API keys: set EXOS_INGEST_API_KEYS "
            "(comma-separated), or EXOS_INGEST_ALLOW_ANONYMOUS=true to accept data from anyone"
        )
