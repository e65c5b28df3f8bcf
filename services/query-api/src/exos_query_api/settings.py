"""Settings of query-api (EXOS_* variables)."""

from __future__ import annotations

from exos_common.service.limits import QueryLimitSettings
from exos_common.settings import RuntimeSettings, ServiceTrustSettings, StoreSettings


class QueryApiSettings(QueryLimitSettings, StoreSettings, ServiceTrustSettings, RuntimeSettings):
    pass
