"""Visitor enrichment: geo and network from the IP (geoip2fast's bundled data, MaxMind
mmdb when configured), device from the User-Agent, language, masked IP, visits."""

from __future__ import annotations

from pathlib import Path

import pytest
from enrich_testkit import FakeClock, FakeGeo, make_enricher, span

from exos_common.messages import ClientContext
from exos_enrich.geo import CompositeGeo, GeoInfo, MaxMindAsn, MaxMindCity, OfflineGeo, build_geo
from exos_enrich.useragent import DeviceInfo, UserAgentParser, describe
from exos_enrich.visitor import (
    VisitStore,
    hashed_visitor_id,
    mask_ip,
    primary_language,
)

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
COMCAST_IP = "73.162.10.20"  # geoip2fast 1.2.2 bundled data: US, AS "COMCAST-7922"


@pytest.fixture(scope="module")
def offline() -> OfflineGeo:
    return OfflineGeo()


# -- geo -------------------------------------------------------------------------------


def test_offline_geo_knows_country_and_as_organisation(offline: OfflineGeo) -> None:
    # Values read from geoip2fast's bundled GeoLite2 country+ASN data (2024-06-18).
    assert offline.lookup(COMCAST_IP) == GeoInfo(
        country="US", country_name="United States", org="COMCAST-7922"
    )
    assert offline.lookup("8.8.8.8").org == "GOOGLE"
    assert offline.lookup("81.2.69.160").country == "GB"
    assert offline.lookup("2001:4860:4860::8888").country == "US"  # IPv6 too


def test_private_and_bad_addresses_have_no_geo(offline: OfflineGeo) -> None:
    geo = CompositeGeo(offline)
    assert geo.lookup("10.1.2.3") == GeoInfo(is_private=True)
    assert geo.lookup("127.0.0.1") == GeoInfo(is_private=True)
    assert geo.lookup("not-an-ip") == GeoInfo()
    assert geo.lookup("") == GeoInfo()


def _city_mmdb(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["73.160.0.0/14"]),
        {
            "city": {"names": {"en": "Chicago"}},
            "subdivisions": [{"iso_code": "IL", "names": {"en": "Illinois"}}],
            "country": {"iso_code": "US", "names": {"en": "United States"}},
        },
    )
    writer.to_db_file(str(path))
    return path


def _asn_mmdb(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["73.160.0.0/14"]),
        {"autonomous_system_number": 7922, "autonomous_system_organization": "Comcast Cable"},
    )
    writer.to_db_file(str(path))
    return path


def test_maxmind_databases_add_city_region_and_as_number(tmp_path: Path) -> None:
    city = MaxMindCity(_city_mmdb(tmp_path / "city.mmdb"))
    asn = MaxMindAsn(_asn_mmdb(tmp_path / "asn.mmdb"))
    assert city.lookup(COMCAST_IP) == GeoInfo(
        country="US", country_name="United States", region="Illinois", city="Chicago"
    )
    assert asn.lookup(COMCAST_IP) == GeoInfo(asn="7922", org="Comcast Cable")
    assert city.lookup("8.8.8.8") == GeoInfo()  # not in the tiny database


def test_build_geo_puts_maxmind_first_and_fills_the_rest_offline(tmp_path: Path) -> None:
    geo = build_geo(
        city_mmdb=_city_mmdb(tmp_path / "city.mmdb"),
        asn_mmdb=_asn_mmdb(tmp_path / "asn.mmdb"),
    )
    assert geo.lookup(COMCAST_IP) == GeoInfo(
        country="US",
        country_name="United States",
        region="Illinois",
        city="Chicago",
        asn="7922",
        org="Comcast Cable",
    )
    # Outside the mmdb files the bundled data still answers country and AS org.
    assert geo.lookup("8.8.8.8") == GeoInfo(
        country="US", country_name="United States", org="GOOGLE"
    )


def test_offline_geo_can_be_turned_off() -> None:
    assert build_geo(offline_file="none").lookup(COMCAST_IP) == GeoInfo()


# -- user agent ------------------------------------------------------------------------


def test_chrome_on_macos() -> None:
    assert describe(CHROME_MAC) == DeviceInfo(
        browser="Chrome",
        browser_version="122.0.0.0",
        os="macOS",
        os_version="10.15.7",  # what the UA says (macOS freezes it), not the real 14.3.1
        device_type="desktop",
    )


def test_safari_on_iphone_is_mobile() -> None:
    assert describe(SAFARI_IPHONE) == DeviceInfo(
        browser="Safari",
        browser_version="17.3",
        os="iOS",
        os_version="17.3.1",
        device_type="mobile",
    )


def test_firefox_on_linux() -> None:
    assert describe(FIREFOX_LINUX) == DeviceInfo(
        browser="Firefox", browser_version="123.0", os="Linux", os_version="", device_type="desktop"
    )


def test_tablets_bots_and_nothing() -> None:
    ipad = (
        "Mozilla/5.0 (iPad; CPU OS 17_3 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1"
    )
    android_phone = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/122.0.6261.64 Mobile Safari/537.36"
    )
    android_tablet = (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/122.0.6261.64 Safari/537.36"
    )
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert describe(ipad).device_type == "tablet"
    assert describe(android_phone).device_type == "mobile"
    assert describe(android_phone).browser == "Chrome"
    assert describe(android_tablet).device_type == "tablet"
    assert describe(bot).device_type == "bot"
    assert describe("") == DeviceInfo()


def test_the_parser_caches_and_stays_bounded() -> None:
    parser = UserAgentParser(cache_size=2)
    first = parser.parse(CHROME_MAC)
    assert parser.parse(CHROME_MAC) is first
    parser.parse(SAFARI_IPHONE)
    parser.parse(FIREFOX_LINUX)
    assert len(parser._cache) == 2


# -- small pieces ----------------------------------------------------------------------


def test_ip_masking_keeps_two_octets_or_a_48_prefix() -> None:
    assert mask_ip("73.162.10.20") == "73.162.x.x"
    assert mask_ip("::ffff:73.162.10.20") == "73.162.x.x"
    assert mask_ip("2001:0db8:85a3:0000:0000:8a2e:0370:7334") == "2001:db8:85a3:x:x:x:x:x"
    assert mask_ip("2a10:8b40::1") == "2a10:8b40:0:x:x:x:x:x"
    assert mask_ip("garbage") == ""


def test_primary_language_of_accept_language() -> None:
    assert primary_language("en-US,en;q=0.9,de;q=0.8") == "en-US"
    assert primary_language("de;q=0.5, fr-CA") == "fr-CA"
    assert primary_language("*") == ""
    assert primary_language("") == ""
    assert primary_language("en;q=0") == ""


def test_visit_store_counts_and_forgets_the_least_recent() -> None:
    store = VisitStore(max_visitors=2)
    assert store.count_visit("a", 1).visit_count == 1
    assert store.count_visit("a", 2).visit_count == 2
    store.count_visit("b", 3)
    store.count_visit("c", 4)  # evicts a
    assert store.get("a") is None
    assert store.count_visit("a", 5).visit_count == 1
    assert store.get("c") is not None and store.get("c").first_seen_ns == 4  # type: ignore[union-attr]


# -- on spans --------------------------------------------------------------------------

CLIENT = ClientContext(
    ip=COMCAST_IP, user_agent=CHROME_MAC, accept_language="en-US,en;q=0.9", referer="https://x/"
)


def test_a_span_gets_the_seed_visitor_attributes(clock: FakeClock, offline: OfflineGeo) -> None:
    enricher = make_enricher(clock, geo=CompositeGeo(offline))
    record = span("click", 0, client=CLIENT)
    assert enricher.process(record) == [record]
    visitor = {k: v for k, v in record.attributes.items() if k.startswith("visitor.")}
    assert visitor == {
        "visitor.country": "US",
        "visitor.org": "COMCAST-7922",
        "visitor.browser": "Chrome",
        "visitor.browser_version": "122.0.0.0",
        "visitor.os": "macOS",
        "visitor.os_version": "10.15.7",
        "visitor.device_type": "desktop",
        "visitor.ip": "73.162.x.x",
        "visitor.language": "en-US",
        "visitor.returning": "false",
        "visitor.visit_count": "1",
        "visitor.id": hashed_visitor_id(COMCAST_IP, CHROME_MAC),
    }


def test_values_the_browser_set_are_kept(clock: FakeClock) -> None:
    geo = FakeGeo({COMCAST_IP: GeoInfo(country="US", city="Evanston", org="Comcast")})
    enricher = make_enricher(clock, geo=geo)
    portal_globals = {"visitor.city": "Chicago", "visitor.org": "Comcast Cable"}
    record = span("click", 0, client=CLIENT, attributes=portal_globals)
    enricher.process(record)
    assert record.attributes["visitor.city"] == "Chicago"
    assert record.attributes["visitor.org"] == "Comcast Cable"
    assert record.attributes["visitor.country"] == "US"  # filled where the browser set nothing


def test_returning_visitors_and_visit_counts(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    first = span("click", 0, session="s1", client=CLIENT)
    again = span("click", 10, session="s1", client=CLIENT)
    next_visit = span("click", 9_000_000, session="s2", client=CLIENT)
    other = span("click", 9_000_000, session="s3", client=ClientContext(ip="8.8.8.8"))
    for record in (first, again, next_visit, other):
        enricher.process(record)
    assert (first.attributes["visitor.returning"], first.attributes["visitor.visit_count"]) == (
        "false",
        "1",
    )
    assert again.attributes["visitor.visit_count"] == "1"  # same session, same visit
    assert (
        next_visit.attributes["visitor.returning"],
        next_visit.attributes["visitor.visit_count"],
    ) == (
        "true",
        "2",
    )
    assert other.attributes["visitor.visit_count"] == "1"


def test_an_sdk_visitor_id_wins_over_the_hash(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    resource = {"rum.sessionId": "s1", "visitor.id": "v-42"}
    a = span("click", 0, session="s1", client=CLIENT, resource=resource)
    b = span(
        "click",
        0,
        session="s2",
        client=ClientContext(ip="8.8.8.8"),
        resource=resource | {"rum.sessionId": "s2"},
    )
    enricher.process(a)
    enricher.process(b)
    assert a.attributes["visitor.id"] == b.attributes["visitor.id"] == "v-42"
    assert b.attributes["visitor.visit_count"] == "2"


def test_language_falls_back_to_the_sdk_browser_language(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    record = span(
        "click",
        0,
        client=ClientContext(ip=COMCAST_IP, user_agent=FIREFOX_LINUX),
        resource={"rum.sessionId": "s1", "browser.language": "de-DE"},
    )
    enricher.process(record)
    assert record.attributes["visitor.language"] == "de-DE"


def test_the_user_agent_falls_back_to_the_span_attribute(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    record = span("documentLoad", 0, attributes={"http.user_agent": SAFARI_IPHONE})
    enricher.process(record)
    assert record.attributes["visitor.browser"] == "Safari"
    assert record.attributes["visitor.device_type"] == "mobile"


def test_the_referer_is_the_pages_document_referrer(clock: FakeClock) -> None:
    enricher = make_enricher(clock)
    load = span(
        "documentLoad", 0, client=CLIENT, attributes={"document.referrer": "https://google.com/"}
    )
    later = span("click", 1_000, client=CLIENT)
    enricher.process(load)
    enricher.process(later)
    assert load.attributes["visitor.referer"] == "https://google.com/"
    assert later.attributes["visitor.referer"] == "https://google.com/"


def test_a_new_network_mid_session_changes_geo_not_the_visit(clock: FakeClock) -> None:
    geo = FakeGeo({COMCAST_IP: GeoInfo(country="US"), "81.2.69.160": GeoInfo(country="GB")})
    enricher = make_enricher(clock, geo=geo)
    first = span("click", 0, client=CLIENT)
    moved = span("click", 1_000, client=ClientContext(ip="81.2.69.160", user_agent=CHROME_MAC))
    enricher.process(first)
    enricher.process(moved)
    assert moved.attributes["visitor.country"] == "GB"
    assert moved.attributes["visitor.ip"] == "81.2.x.x"
    assert moved.attributes["visitor.id"] == first.attributes["visitor.id"]
    assert moved.attributes["visitor.visit_count"] == "1"
