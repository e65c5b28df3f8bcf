"""Settings of the enrich service: the shared Kafka and runtime groups plus its own
`EXOS_ENRICH_*`, `EXOS_GEOIP_*` and `EXOS_FRUSTRATION_*` variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from exos_common.settings import KafkaSettings, RuntimeSettings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RULES = ("rage_click", "dead_click", "excessive_scroll", "quick_back")


class EnrichSettings(RuntimeSettings, KafkaSettings):
    """Enrich: visitor and identity attributes, frustration signals, per-session state."""

    model_config = SettingsConfigDict(env_prefix="EXOS_", extra="ignore", env_ignore_empty=True)

    enrich_group: str = Field("exos-enrich", description="Kafka consumer group of enrich.")
    enrich_fetch_max_records: int = Field(
        2_000, ge=1, description="Records fetched per poll; one Kafka transaction each."
    )
    enrich_session_idle_s: float = Field(
        1800.0, gt=0, description="A session that sent nothing for this long is forgotten."
    )
    enrich_max_sessions: int = Field(
        50_000,
        ge=1,
        description="Sessions tracked at once per enrich process (least recent dropped first).",
    )
    enrich_session_buffer: int = Field(
        256,
        ge=8,
        description="Cap of each per-session buffer (pending clicks, scroll samples, "
        "DOM-change intervals, client-sent signals).",
    )
    enrich_signal_settle_s: float = Field(
        15.0,
        gt=0,
        description="Wall time after which an open signal is published anyway: a rage burst "
        "with no new click, a detected signal still waiting for the session's spans to pass "
        "it (see `EXOS_FRUSTRATION_CLIENT_GRACE_MS`).",
    )
    enrich_dead_click_wait_s: float = Field(
        60.0,
        gt=0,
        description="How long a click waits for its session's replay to pass click + "
        "`EXOS_FRUSTRATION_DEAD_CLICK_MS`; undecided after that (recording off) it is dropped, "
        "never reported as dead.",
    )
    enrich_replay_history_s: float = Field(
        120.0,
        gt=0,
        description="How far back (rrweb time) DOM changes are remembered for clicks whose "
        "span arrives after the replay.",
    )
    enrich_visitor_store_size: int = Field(
        200_000,
        ge=1,
        description="Visitors whose first visit and visit count this process remembers "
        "(in memory, least recent dropped first).",
    )
    enrich_trusted_proxies: str = Field(
        "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
        description="CIDRs whose `X-Forwarded-For` `GET /api/visitor` believes "
        "(comma-separated; empty = use the socket address only).",
    )
    geoip_mmdb: Path | None = Field(
        None,
        description="MaxMind GeoLite2/GeoIP2 City `.mmdb` for visitor.city/region (country "
        "and ASN come from the bundled geoip2fast data without it).",
    )
    geoip_asn_mmdb: Path | None = Field(
        None,
        description="MaxMind GeoLite2 ASN `.mmdb` for visitor.asn (the bundled data has the "
        "AS organisation name only, not the number).",
    )
    geoip_offline_file: str = Field(
        "geoip2fast-asn-ipv6.dat.gz",
        description="geoip2fast data file (bundled name or path): `geoip2fast-asn-ipv6.dat.gz` "
        "(country + AS org, IPv4+IPv6, ~120 MB RAM), `geoip2fast.dat.gz` (country, IPv4, "
        "~40 MB); `none` turns offline geo off.",
    )
    frustration_rules: str = Field(
        ",".join(RULES),
        description="Frustration rules enrich runs, comma-separated (empty = none).",
    )
    frustration_rage_clicks: int = Field(
        4, ge=1, description="Rage click: more than this many clicks on the same element..."
    )
    frustration_rage_window_ms: int = Field(
        2000, ge=1, description="...within this many milliseconds."
    )
    frustration_dead_click_ms: int = Field(
        500, ge=1, description="Dead click: no DOM change within this many ms after the click."
    )
    frustration_dead_click_ignore: str = Field(
        "INPUT,TEXTAREA,SELECT,OPTION",
        description="Target elements never reported as dead clicks (focusing a field changes "
        "no DOM), comma-separated tag names.",
    )
    frustration_scroll_direction_changes: int = Field(
        3, ge=1, description="Excessive scroll: more than this many direction changes..."
    )
    frustration_scroll_distance_pct: float = Field(
        130.0, gt=0, description="...and scrolled distance above this % of document height..."
    )
    frustration_scroll_window_s: float = Field(
        30.0, gt=0, description="...within this many seconds on one page."
    )
    frustration_quick_back_s: float = Field(
        15.0, gt=0, description="Quick back: A -> B -> A with at most this many seconds on B."
    )
    frustration_client_grace_ms: int = Field(
        1000,
        ge=0,
        description="A detected signal waits until the session's spans are this far past it, "
        "so a client-sent one (HyperDX.addAction) for the same thing suppresses it.",
    )

    @field_validator("frustration_rules")
    @classmethod
    def _known_rules(cls, value: str) -> str:
        unknown = {r.strip() for r in value.split(",") if r.strip()} - set(RULES)
        if unknown:
            raise ValueError(f"unknown frustration rules {sorted(unknown)}; known: {RULES}")
        return value

    @property
    def enabled_rules(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.frustration_rules.split(",") if r.strip())

    @property
    def dead_click_ignored_elements(self) -> frozenset[str]:
        return frozenset(
            t.strip().upper() for t in self.frustration_dead_click_ignore.split(",") if t.strip()
        )

    @property
    def trusted_proxies(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.enrich_trusted_proxies.split(",") if c.strip())

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in self.trusted_proxies)

    @field_validator("enrich_trusted_proxies")
    @classmethod
    def _valid_cidrs(cls, value: str) -> str:
        for cidr in (c.strip() for c in value.split(",") if c.strip()):
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad entry
        return value
