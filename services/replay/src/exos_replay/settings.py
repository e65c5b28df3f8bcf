"""Settings of replay (EXOS_* variables)."""

from __future__ import annotations

from exos_common.settings import RuntimeSettings, StoreSettings


class ReplaySettings(StoreSettings, RuntimeSettings):
    pass
