"""Settings of the gateway (EXOS_* variables)."""

from __future__ import annotations

from pydantic import Field

from exos_common.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    query_api_url: str = Field(
        "http://127.0.0.1:8093", description="Base URL of query-api (distributed mode)."
    )
    replay_url: str = Field("http://127.0.0.1:8094", description="Base URL of replay.")
    insights_url: str = Field("http://127.0.0.1:8095", description="Base URL of insights.")
