"""Writer fixtures: a migrated database of its own on the session's chDB folder."""

from __future__ import annotations

import pytest

from exos_common.store import Store


@pytest.fixture
def store(migrated_store: Store) -> Store:
    return migrated_store
