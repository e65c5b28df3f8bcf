"""EnrichSettings: EXOS_* variables, rule names checked, docs/configuration.md lists them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from exos.settings_doc import render_table, service_settings
from exos_enrich.settings import EnrichSettings


def test_variables_are_read_with_the_exos_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_ENRICH_SESSION_IDLE_S", "600")
    monkeypatch.setenv("EXOS_FRUSTRATION_RAGE_CLICKS", "6")
    monkeypatch.setenv("EXOS_FRUSTRATION_RULES", "rage_click, quick_back")
    monkeypatch.setenv("EXOS_GEOIP_MMDB", "/data/GeoLite2-City.mmdb")
    monkeypatch.setenv("EXOS_KAFKA_BOOTSTRAP", "kafka:9092")
    settings = EnrichSettings()
    assert settings.enrich_session_idle_s == 600
    assert settings.frustration_rage_clicks == 6
    assert settings.enabled_rules == {"rage_click", "quick_back"}
    assert settings.geoip_mmdb == Path("/data/GeoLite2-City.mmdb")
    assert settings.kafka_bootstrap == "kafka:9092"


def test_defaults_are_the_documented_rules() -> None:
    settings = EnrichSettings()
    assert settings.enabled_rules == {"rage_click", "dead_click", "excessive_scroll", "quick_back"}
    assert (settings.frustration_rage_clicks, settings.frustration_rage_window_ms) == (4, 2000)
    assert settings.frustration_dead_click_ms == 500
    assert settings.frustration_scroll_direction_changes == 3
    assert settings.frustration_scroll_distance_pct == 130
    assert settings.frustration_quick_back_s == 15
    assert settings.enrich_session_idle_s == 1800


def test_unknown_rules_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_FRUSTRATION_RULES", "rage_click,angry_typing")
    with pytest.raises(ValidationError, match="angry_typing"):
        EnrichSettings()


def test_the_settings_table_lists_enrich_variables() -> None:
    assert EnrichSettings in service_settings()
    table = render_table()
    for name in ("EXOS_ENRICH_SESSION_IDLE_S", "EXOS_GEOIP_MMDB", "EXOS_FRUSTRATION_RAGE_CLICKS"):
        assert table.count(f"| `{name}` |") == 1


def test_trusted_proxies_are_checked_and_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_ENRICH_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")
    networks = EnrichSettings().trusted_proxy_networks
    assert [str(n) for n in networks] == ["10.0.0.0/8", "fd00::/8"]
    monkeypatch.setenv("EXOS_ENRICH_TRUSTED_PROXIES", "10.0.0.0/8,not-a-cidr")
    with pytest.raises(ValidationError, match="not-a-cidr"):
        EnrichSettings()
