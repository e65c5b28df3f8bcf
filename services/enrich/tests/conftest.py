"""Enrich fixtures: an enricher on a fake clock, and the helpers in `enrich_testkit`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exos_enrich.enricher import SessionEnricher

# The helper module lives next to the tests (`import enrich_testkit`).
sys.path.insert(0, str(Path(__file__).parent))

from enrich_testkit import FakeClock, make_enricher


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def enricher(clock: FakeClock) -> SessionEnricher:
    return make_enricher(clock)
