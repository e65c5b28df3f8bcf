"""Writer fixtures: a migrated database of its own on the session's chDB folder, and the
in-memory stand-ins in `writer_testkit`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exos_common.store import Store

# The helper module lives next to the tests (`import writer_testkit`).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def store(migrated_store: Store) -> Store:
    return migrated_store
