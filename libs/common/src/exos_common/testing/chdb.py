"""pytest plugin: the one embedded chDB folder of the test session.

chDB runs one engine per process and refuses a second data folder while the first is
open, so every in-process chDB test shares `chdb_path` (session scope) and isolates
itself with its own database instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")
