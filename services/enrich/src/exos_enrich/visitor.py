"""Visitor enrichment: the `visitor.*` span attributes (docs/pipeline.md, "Enrich").

Geo and network from the client IP, device from the User-Agent, language from
Accept-Language (or the SDK's `browser.language`), the IP masked, and whether this
visitor came before and how often. A visitor is the SDK's `visitor.id` attribute when it
sends one, else a hash of IP + User-Agent; a visit is a session. Visit counts live in a
bounded in-memory store of this process (see `VisitStore`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from exos_enrich.geo import GeoInfo, GeoLookup
from exos_enrich.useragent import DeviceInfo, UserAgentParser

VISITOR_ID_ATTRIBUTE = "visitor.id"

# The 15 visitor attributes, plus visitor.id (the key that "unique visitors" counts on).
VISITOR_ATTRIBUTES = (
    "visitor.city",
    "visitor.region",
    "visitor.country",
    "visitor.org",
    "visitor.asn",
    "visitor.browser",
    "visitor.browser_version",
    "visitor.os",
    "visitor.os_version",
    "visitor.device_type",
    "visitor.ip",
    "visitor.language",
    "visitor.returning",
    "visitor.visit_count",
    "visitor.referer",
    VISITOR_ID_ATTRIBUTE,
)


def mask_ip(ip: str) -> str:
    """The masked form (`73.162.x.x`): IPv4 keeps its first two octets; IPv6 keeps
    its /48 (the site prefix), the rest is `x`. Anything else is not shown at all."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        first, second = str(address).split(".")[:2]
        return f"{first}.{second}.x.x"
    groups = address.exploded.split(":")[:3]
    return ":".join(g.lstrip("0") or "0" for g in groups) + ":x:x:x:x:x"


def primary_language(accept_language: str) -> str:
    """The preferred language tag of an Accept-Language header (`en-US,en;q=0.9` ->
    `en-US`): the highest q, the first among equals; `*` is no language."""
    best, best_q = "", -1.0
    for item in accept_language.split(","):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = tag, q
    return best if best_q > 0 else ""


def hashed_visitor_id(ip: str, user_agent: str) -> str:
    return hashlib.sha256(f"{ip}\x00{user_agent}".encode()).hexdigest()[:16]


@dataclass(slots=True)
class Visit:
    first_seen_ns: int
    visit_count: int


class VisitStore:
    """First visit and visit count per visitor, bounded (least recent visitors dropped
    first). Per process: each enrich replica counts the sessions its partitions carry,
    and a restart starts from zero, so `visitor.visit_count` is a lower bound. A store
    backed by ClickHouse can replace it behind the same two methods."""

    def __init__(self, max_visitors: int = 200_000) -> None:
        self._visits: OrderedDict[str, Visit] = OrderedDict()
        self._max = max_visitors
        self._lock = threading.Lock()

    def count_visit(self, visitor_id: str, now_ns: int) -> Visit:
        """Count one more visit (call once per session) and return the updated record."""
        with self._lock:
            visit = self._visits.get(visitor_id)
            if visit is None:
                visit = self._visits[visitor_id] = Visit(first_seen_ns=now_ns, visit_count=0)
                if len(self._visits) > self._max:
                    self._visits.popitem(last=False)
            else:
                self._visits.move_to_end(visitor_id)
            visit.visit_count += 1
            return Visit(visit.first_seen_ns, visit.visit_count)

    def get(self, visitor_id: str) -> Visit | None:
        with self._lock:
            return self._visits.get(visitor_id)

    def __len__(self) -> int:
        return len(self._visits)


@dataclass(frozen=True, slots=True)
class VisitorProfile:
    geo: GeoInfo = field(default_factory=GeoInfo)
    device: DeviceInfo = field(default_factory=DeviceInfo)
    masked_ip: str = ""
    language: str = ""
    referer: str = ""
    visitor_id: str = ""
    visit_count: int = 0

    @property
    def is_returning(self) -> bool:
        return self.visit_count > 1

    def attributes(self) -> dict[str, str]:
        """The `visitor.*` attributes this profile knows (empty values left out)."""
        values = {
            "visitor.city": self.geo.city,
            "visitor.region": self.geo.region,
            "visitor.country": self.geo.country,
            "visitor.org": self.geo.org,
            "visitor.asn": self.geo.asn,
            "visitor.browser": self.device.browser,
            "visitor.browser_version": self.device.browser_version,
            "visitor.os": self.device.os,
            "visitor.os_version": self.device.os_version,
            "visitor.device_type": self.device.device_type,
            "visitor.ip": self.masked_ip,
            "visitor.language": self.language,
            "visitor.referer": self.referer,
            VISITOR_ID_ATTRIBUTE: self.visitor_id,
        }
        if self.visit_count:
            values["visitor.returning"] = "true" if self.is_returning else "false"
            values["visitor.visit_count"] = str(self.visit_count)
        return {key: value for key, value in values.items() if value}


class VisitorResolver:
    """Builds visitor profiles from what the server saw of a request."""

    def __init__(self, geo: GeoLookup, ua: UserAgentParser, visits: VisitStore) -> None:
        self.geo = geo
        self.ua = ua
        self.visits = visits

    def profile(
        self,
        *,
        ip: str,
        user_agent: str,
        accept_language: str = "",
        fallback_language: str = "",
        referer: str = "",
        visitor_id: str = "",
        count_visit_at_ns: int | None = None,
    ) -> VisitorProfile:
        """`count_visit_at_ns` counts this as a new visit (once per session)."""
        visitor_id = visitor_id or (hashed_visitor_id(ip, user_agent) if ip else "")
        count = 0
        if visitor_id and count_visit_at_ns is not None:
            count = self.visits.count_visit(visitor_id, count_visit_at_ns).visit_count
        return VisitorProfile(
            geo=self.geo.lookup(ip) if ip else GeoInfo(),
            device=self.ua.parse(user_agent),
            masked_ip=mask_ip(ip),
            language=primary_language(accept_language) or fallback_language,
            referer=referer,
            visitor_id=visitor_id,
            visit_count=count,
        )


def apply_kept(attributes: dict[str, str], values: dict[str, str]) -> None:
    """Add `values` to a record's attributes; what the record already has is kept (the
    browser's own `visitor.*` globals win over what the server derives)."""
    for key, value in values.items():
        if not attributes.get(key):
            attributes[key] = value
