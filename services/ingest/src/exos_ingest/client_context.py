"""What only the server sees about a sender: client IP, User-Agent, Accept-Language,
Referer. Enrich turns them into visitor attributes (geo, browser, language).

The client IP is the TCP peer, unless that peer is a trusted proxy: then
`X-Forwarded-For` is read from the right, skipping trusted hops, and the first
untrusted address is the client. Taking the leftmost entry instead would let any
browser claim any IP by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from exos_common.messages import ClientContext

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IPAddress | None:
    """An address from a peer or a forwarded hop; ports (`1.2.3.4:80`, `[::1]:80`) are
    dropped and IPv4-mapped IPv6 becomes IPv4."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_ip(peer: str | None, forwarded_for: str | None, proxies: Sequence[IPNetwork]) -> str:
    peer_address = parse_ip(peer or "")
    if peer_address is None:
        return peer or ""
    if not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    client = peer_address
    for hop in reversed(forwarded_for.split(",")):
        address = parse_ip(hop)
        if address is None:
            # Garbage can only come from the client side of the chain: the last
            # address a trusted proxy vouched for is the best we know.
            break
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)


def client_context(
    headers: Mapping[str, str],
    peer: str | None,
    proxies: Sequence[IPNetwork],
    received_at_ns: int,
    forwarded_for: str | None = None,
) -> ClientContext:
    """`headers` is case-insensitive (Starlette's); `forwarded_for` is every
    `X-Forwarded-For` header of the request joined with commas, in order."""
    return ClientContext(
        ip=client_ip(peer, forwarded_for, proxies),
        user_agent=headers.get("user-agent", ""),
        accept_language=headers.get("accept-language", ""),
        referer=headers.get("referer") or headers.get("origin") or "",
        received_at_ns=received_at_ns,
    )
