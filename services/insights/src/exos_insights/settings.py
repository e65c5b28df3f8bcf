"""Settings of insights (EXOS_* variables)."""

from __future__ import annotations

from exos_common.settings import RuntimeSettings, StoreSettings


class InsightsSettings(StoreSettings, RuntimeSettings):
    pass
