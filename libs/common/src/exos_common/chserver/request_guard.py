"""Which requests may reach the engine at all, before any credentials are looked at:

- the Host header must name this server (a loopback name, the address it listens on, or
  a configured name), so a web page whose own name an attacker re-points at 127.0.0.1
  (DNS rebinding) is refused;
- a browser request from another site is refused: it carries an `Origin` (and
  `Sec-Fetch-Site`), which no server-side client (clickhouse-connect, Grafana's backend,
  clickhouse-client) sends. That covers the `text/plain` POST a page may send without a
  CORS preflight.

Pure functions, so every rule has a unit test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
CROSS_SITE = ("cross-site", "same-site")


def allowed_host_names(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Loopback names, the listen address unless it is a wildcard, and `extra` (what a
    server reached under another name, e.g. a container's, is configured with)."""
    names = set(LOOPBACK_NAMES)
    if bind not in WILDCARD_BINDS:
        names.add(f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind)
    names.update(name.strip().lower() for name in extra if name.strip())
    return frozenset(name.lower() for name in names)


def host_name(host_header: str) -> str:
    """`Host` without its port: `127.0.0.1:8123` -> `127.0.0.1`, `[::1]:8123` -> `[::1]`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refusal(
    headers: Mapping[str, str], hosts: frozenset[str], origins: frozenset[str]
) -> str | None:
    """Why the request is refused, or None when it may go on."""
    host = host_name(headers.get("host", ""))
    if host not in hosts:
        return (
            f"Host {host or '(none)'!r} is not a name of this server "
            "(EXOS_CLICKHOUSE_SERVER_ALLOWED_HOSTS adds names)"
        )
    origin = headers.get("origin")
    if origin is not None:
        if _origin_key(origin) not in origins:
            return (
                f"Cross-origin request from {origin!r} refused "
                "(EXOS_CLICKHOUSE_SERVER_ALLOWED_ORIGINS allows origins)"
            )
        return None
    if headers.get("sec-fetch-site", "").lower() in CROSS_SITE:
        return "Cross-site browser request refused"
    return None


def allowed_origins(origins: Iterable[str]) -> frozenset[str]:
    return frozenset(_origin_key(origin) for origin in origins if origin.strip())


def _origin_key(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else origin
