"""`GET /api/visitor`: the shape portal pages read, for the caller's address and headers."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
from enrich_testkit import FakeClock, FakeGeo
from fastapi import FastAPI

from exos_enrich.api.visitor import COOKIE, client_ip, visitor_router
from exos_enrich.geo import GeoInfo
from exos_enrich.useragent import UserAgentParser
from exos_enrich.visitor import VisitorResolver, VisitStore

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
)
CHICAGO = GeoInfo(
    country="US",
    country_name="United States",
    region="Illinois",
    city="Chicago",
    asn="7922",
    org="Comcast Cable",
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


def make_client(clock: FakeClock, peer: str = "73.162.10.20") -> httpx.AsyncClient:
    resolver = VisitorResolver(FakeGeo({"73.162.10.20": CHICAGO}), UserAgentParser(), VisitStore())
    app = FastAPI()
    app.include_router(visitor_router(resolver, trusted_proxies=["10.0.0.0/8"], clock=clock))
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


HEADERS = {
    "user-agent": CHROME_MAC,
    "accept-language": "en-US,en;q=0.9",
    "referer": "https://google.com/",
}


async def visitor(client: httpx.AsyncClient, headers: dict[str, str] = HEADERS) -> Any:
    response = await client.get("/api/visitor", headers=headers)
    assert response.status_code == 200
    return response.json()


async def test_the_seed_shape(clock: FakeClock) -> None:
    response = await make_client(clock).get("/api/visitor", headers=HEADERS)
    assert response.status_code == 200
    body = response.json()
    visitor_id = body["visit"].pop("visitorId")
    assert len(visitor_id) == 16
    assert body == {
        "geo": {
            "city": "Chicago",
            "region": "Illinois",
            "country": "US",
            "countryName": "United States",
        },
        "network": {"asn": 7922, "asOrganization": "Comcast Cable"},
        "device": {
            "browser": "Chrome",
            "browserVersion": "122.0.0.0",
            "os": "macOS",
            "osVersion": "10.15.7",
            "type": "desktop",
        },
        "visit": {
            "ip": "73.162.x.x",
            "acceptLanguage": "en-US",
            "isReturning": False,
            "visitCount": 1,
        },
        "request": {"referer": "https://google.com/", "userAgent": CHROME_MAC},
    }
    assert response.headers["cache-control"] == "no-store"


async def test_visits_are_counted_with_a_cookie(clock: FakeClock) -> None:
    client = make_client(clock)
    first = (await visitor(client))["visit"]
    assert client.cookies.get(COOKIE)
    clock.advance(60)  # another page of the same visit
    same = (await visitor(client))["visit"]
    clock.advance(31 * 60)  # back after more than 30 minutes: a new visit
    back = (await visitor(client))["visit"]
    assert (first["visitCount"], same["visitCount"], back["visitCount"]) == (1, 1, 2)
    assert (first["isReturning"], back["isReturning"]) == (False, True)
    assert first["visitorId"] == back["visitorId"]


async def test_a_forged_cookie_is_a_new_visitor(clock: FakeClock) -> None:
    client = make_client(clock)
    client.cookies.set(COOKIE, "not-a-valid-value")
    assert (await visitor(client))["visit"]["visitCount"] == 1


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(clock: FakeClock) -> None:
    headers = HEADERS | {"x-forwarded-for": "203.0.113.9, 73.162.10.20"}
    behind_proxy = await visitor(make_client(clock, peer="10.0.0.7"), headers)
    assert behind_proxy["geo"]["city"] == "Chicago"
    direct = await visitor(make_client(clock, peer="198.51.100.1"), headers)
    assert direct["geo"]["city"] == ""  # the header of an untrusted peer is ignored
    assert direct["visit"]["ip"] == "198.51.x.x"


def test_client_ip_walks_forwarded_for_from_the_right() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_ip("10.0.0.1", "198.51.100.7, 10.0.0.2", trusted) == "198.51.100.7"
    assert client_ip("10.0.0.1", "", trusted) == "10.0.0.1"
    assert client_ip("198.51.100.1", "1.2.3.4", trusted) == "198.51.100.1"
    assert client_ip("10.0.0.1", "10.0.0.3", trusted) == "10.0.0.1"


async def test_nothing_known_is_still_a_valid_answer(clock: FakeClock) -> None:
    body = await visitor(make_client(clock, peer="127.0.0.1"), {"user-agent": ""})
    assert body["geo"]["country"] == "" and body["network"]["asn"] is None
    assert body["device"]["type"] == ""
