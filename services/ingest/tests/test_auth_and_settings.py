"""API keys (raw and Bearer, constant-time) and the ingest settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from exos_common.service.keys import ApiKeys, presented_key
from exos_ingest.settings import IngestSettings


def test_raw_and_bearer_keys() -> None:
    keys = ApiKeys(["k-one", "k-two"])
    assert keys.enforced
    assert keys.allows("k-one")
    assert keys.allows("Bearer k-two")
    assert keys.allows("bearer   k-one ")
    assert not keys.allows("k-three")
    assert not keys.allows("Bearer ")
    assert not keys.allows("")
    assert not keys.allows(None)
    assert not keys.allows("k-one-and-more")
    assert presented_key("Basic abc") == "Basic abc"  # not a scheme we know: the raw value


def test_no_keys_means_open() -> None:
    keys = ApiKeys([])
    assert not keys.enforced
    assert keys.allows(None)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_INGEST_API_KEYS", " a , b,,")
    monkeypatch.setenv("EXOS_INGEST_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    monkeypatch.setenv("EXOS_INGEST_CORS_ORIGINS", "https://shop.example,https://admin.example")
    monkeypatch.setenv("EXOS_KAFKA_PUBLISH_TIMEOUT_S", "2.5")
    settings = IngestSettings()
    assert settings.api_keys == ["a", "b"]
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.1/32"]
    assert settings.cors_origins(distributed=True) == [
        "https://shop.example",
        "https://admin.example",
    ]
    assert settings.kafka_publish_timeout_s == 2.5
    assert settings.ingest_max_body_bytes == 16 * 1024 * 1024


def test_bad_proxy_cidr_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOS_INGEST_TRUSTED_PROXIES", "10.0.0.0/8,not-a-net")
    with pytest.raises(ValidationError, match="'not-a-net' is not a CIDR"):
        IngestSettings()
