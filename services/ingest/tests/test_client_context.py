"""Client IP behind (un)trusted proxies, and the other server-side context."""

from __future__ import annotations

import ipaddress

from exos_ingest.client_context import client_context, client_ip, parse_ip

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip("203.0.113.7", "198.51.100.1", []) == "203.0.113.7"
    assert client_ip("10.0.0.2", "198.51.100.1", []) == "10.0.0.2"


def test_an_untrusted_peer_cannot_claim_another_ip() -> None:
    assert client_ip("203.0.113.7", "198.51.100.1", PROXIES) == "203.0.113.7"


def test_trusted_proxy_chain_yields_the_rightmost_untrusted_hop() -> None:
    # The browser itself sent "6.6.6.6" (spoofed); the ingress saw 198.51.100.1.
    forwarded = "6.6.6.6, 198.51.100.1, 10.1.2.3"
    assert client_ip("10.0.0.2", forwarded, PROXIES) == "198.51.100.1"
    assert client_ip("10.0.0.2", "198.51.100.1", PROXIES) == "198.51.100.1"
    # Every hop trusted: the leftmost is the best we know.
    assert client_ip("10.0.0.2", "10.9.9.9, 10.1.2.3", PROXIES) == "10.9.9.9"
    # Garbage left of a trusted hop: stop at the last address a proxy vouched for.
    assert client_ip("10.0.0.2", "unknown, 10.1.2.3", PROXIES) == "10.1.2.3"
    # Several headers arrive joined with commas; ports and IPv6 brackets are dropped.
    assert client_ip("[2001:db8::1]:443", "198.51.100.9:5555,[2001:db8::2]", PROXIES) == (
        "198.51.100.9"
    )
    assert client_ip("10.0.0.2", "2001:db8::5, 2a00:1450::1", PROXIES) == "2a00:1450::1"


def test_ipv4_mapped_ipv6_and_odd_peers() -> None:
    assert str(parse_ip("::ffff:10.0.0.2")) == "10.0.0.2"
    assert client_ip("::ffff:10.0.0.2", "198.51.100.1", PROXIES) == "198.51.100.1"
    assert client_ip(None, "198.51.100.1", PROXIES) == ""
    assert client_ip("testclient", None, PROXIES) == "testclient"


def test_context_reads_user_agent_language_and_referer_or_origin() -> None:
    headers = {
        "user-agent": "Mozilla/5.0",
        "accept-language": "de-DE,de;q=0.9",
        "origin": "https://shop.example",
    }
    context = client_context(headers, "203.0.113.7", [], 42)
    assert (context.ip, context.user_agent, context.accept_language) == (
        "203.0.113.7",
        "Mozilla/5.0",
        "de-DE,de;q=0.9",
    )
    assert (context.referer, context.received_at_ns) == ("https://shop.example", 42)
    with_referer = client_context({**headers, "referer": "https://shop.example/cart"}, "", [], 1)
    assert with_referer.referer == "https://shop.example/cart"
