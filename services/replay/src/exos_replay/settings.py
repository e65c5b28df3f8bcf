"""Settings of replay (EXOS_* variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from exos_common.service.limits import QueryLimitSettings
from exos_common.settings import RuntimeSettings, ServiceTrustSettings, StoreSettings

# services/replay/web: where scripts/setup.sh runs `npm ci` (rrweb, pinned).
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[2] / "web"


class ReplaySettings(QueryLimitSettings, StoreSettings, ServiceTrustSettings, RuntimeSettings):
    replay_assets_dir: Path = Field(
        default_factory=lambda: DEFAULT_ASSETS_DIR,
        description="Folder holding `node_modules/rrweb` (npm, pinned 2.2.2) that the "
        "player page loads; default the repository's `services/replay/web`.",
    )
    replay_page_rows: int = Field(
        2000,
        ge=10,
        le=100_000,
        description="Most replay chunks one `/events` page reads (the player asks for "
        "pages until the recording is complete).",
    )
    replay_first_page_bytes: int = Field(
        256 * 1024,
        ge=16 * 1024,
        description="Size target of the first `/events` page: small, so the player "
        "starts on the first full snapshot while the rest loads.",
    )
    replay_page_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        description="A page of rrweb events ends at the first complete event past this "
        "many bytes of JSON (before gzip).",
    )
    replay_gzip_level: int = Field(
        4,
        ge=1,
        le=9,
        description="gzip level of replay responses (1 fastest, 9 smallest; 4 measured "
        "3x faster than 6 for 7% more bytes, bench/bench_replay.py).",
    )
    replay_tab_rows: int = Field(
        5000, ge=10, le=100_000, description="Most rows a drill-down tab returns."
    )
