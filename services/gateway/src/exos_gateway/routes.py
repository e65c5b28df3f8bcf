"""Which service answers which path. The same table routes requests in distributed mode
and picks the routes to mount in the all-in-one process."""

from __future__ import annotations

from exos_gateway.proxy import Upstream
from exos_gateway.settings import GatewaySettings

# prefix -> service; a path is routed to the service of its longest matching prefix.
ROUTED_PREFIXES = {
    "/api/stats": "query-api",
    "/api/process": "query-api",
    "/api/ocpm": "query-api",
    "/api/analytics": "query-api",
    "/api/site-health": "query-api",
    "/api/sessions": "replay",
    "/replay": "replay",
    "/api/insights": "insights",
    "/ask": "insights",
    "/api/visitor": "enrich",
}


def upstream_routes(settings: GatewaySettings) -> dict[str, Upstream]:
    urls = {
        "query-api": settings.query_api_url,
        "replay": settings.replay_url,
        "insights": settings.insights_url,
        "enrich": settings.enrich_url,
    }
    return {prefix: Upstream(name, urls[name]) for prefix, name in ROUTED_PREFIXES.items()}
