"""`GET /api/visitor`: what the server sees of the caller, in the shape a portal page
reads (`v.geo.city`, `v.network.asOrganization`, `v.device.browser`, ...) before it
calls `HyperDX.setGlobalAttributes({'visitor.*': ...})`.

Visits are counted with a first-party cookie (`exos_visitor` = id.count.last-seen), so
the endpoint keeps no state and every replica answers the same: a call more than
`visit_gap_s` after the previous one is a new visit.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable, Sequence

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from exos_enrich.visitor import VisitorResolver, mask_ip, primary_language

COOKIE = "exos_visitor"
COOKIE_MAX_AGE_S = 2 * 365 * 24 * 3600


class Geo(BaseModel):
    city: str
    region: str
    country: str
    countryName: str  # camelCase: the names portal pages read


class Network(BaseModel):
    asn: int | None
    asOrganization: str


class Device(BaseModel):
    browser: str
    browserVersion: str
    os: str
    osVersion: str
    type: str


class Visit(BaseModel):
    ip: str
    acceptLanguage: str
    isReturning: bool
    visitCount: int
    visitorId: str


class RequestInfo(BaseModel):
    referer: str
    userAgent: str


class VisitorResponse(BaseModel):
    geo: Geo
    network: Network
    device: Device
    visit: Visit
    request: RequestInfo


def client_ip(
    peer: str, forwarded_for: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
    """The caller's address: the socket peer, or, when the peer is a trusted proxy, the
    right-most `X-Forwarded-For` entry that is not itself a trusted proxy."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not forwarded_for or not is_trusted(peer):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(hop):
            return hop
    return peer


def _read_cookie(raw: str | None) -> tuple[str, int, int] | None:
    if not raw:
        return None
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0].isalnum() or len(parts[0]) > 64:
        return None
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except ValueError:
        return None


def visitor_router(
    resolver: VisitorResolver,
    *,
    trusted_proxies: Sequence[str | ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    visit_gap_s: float = 1800.0,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies]
    router = APIRouter(tags=["visitor"])

    @router.get(
        "/api/visitor",
        response_model=VisitorResponse,
        summary="Geo, network, device and visit of the caller (for the portal's visitor.* globals)",
    )
    async def get_visitor(request: Request, response: Response) -> VisitorResponse:
        peer = request.client.host if request.client else ""
        ip = client_ip(peer, request.headers.get("x-forwarded-for", ""), trusted)
        user_agent = request.headers.get("user-agent", "")
        accept_language = request.headers.get("accept-language", "")
        profile = resolver.profile(ip=ip, user_agent=user_agent, accept_language=accept_language)

        now = int(clock())
        known = _read_cookie(request.cookies.get(COOKIE))
        if known is None:
            visitor_id, count = secrets.token_hex(8), 1
        else:
            visitor_id, count, last = known
            count = count + 1 if now - last >= visit_gap_s else max(count, 1)
        response.set_cookie(
            COOKIE,
            f"{visitor_id}.{count}.{now}",
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        response.headers["Cache-Control"] = "no-store"
        return VisitorResponse(
            geo=Geo(
                city=profile.geo.city,
                region=profile.geo.region,
                country=profile.geo.country,
                countryName=profile.geo.country_name,
            ),
            network=Network(
                asn=int(profile.geo.asn) if profile.geo.asn.isdigit() else None,
                asOrganization=profile.geo.org,
            ),
            device=Device(
                browser=profile.device.browser,
                browserVersion=profile.device.browser_version,
                os=profile.device.os,
                osVersion=profile.device.os_version,
                type=profile.device.device_type,
            ),
            visit=Visit(
                ip=mask_ip(ip),
                acceptLanguage=primary_language(accept_language),
                isReturning=count > 1,
                visitCount=count,
                visitorId=visitor_id,
            ),
            request=RequestInfo(referer=request.headers.get("referer", ""), userAgent=user_agent),
        )

    return router
