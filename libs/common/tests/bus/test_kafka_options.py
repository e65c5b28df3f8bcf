"""The aiokafka options the settings turn into: what Azure Event Hubs (SASL_SSL, PLAIN,
`$ConnectionString`, gzip only) and Strimzi (SCRAM) need reach every client."""

from __future__ import annotations

import ssl

import pytest

from exos_common.bus.kafka import connection_options, producer_options
from exos_common.settings import KafkaSettings


def _settings(**values: object) -> KafkaSettings:
    return KafkaSettings.model_validate(values)


def test_plaintext_has_no_credentials_and_no_tls() -> None:
    options = connection_options(_settings(kafka_bootstrap="kafka:9092"))
    assert options == {"bootstrap_servers": "kafka:9092", "security_protocol": "PLAINTEXT"}


def test_event_hubs_sasl_ssl_plain() -> None:
    settings = _settings(
        kafka_bootstrap="ns.servicebus.windows.net:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="$ConnectionString",
        kafka_sasl_password="Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=k",
    )
    options = connection_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "PLAIN"
    assert options["sasl_plain_username"] == "$ConnectionString"
    assert options["sasl_plain_password"].startswith("Endpoint=sb://ns.")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    # The connection string is a secret: never in the settings' repr or dump.
    assert "SharedAccessKey" not in repr(settings)
    assert "SharedAccessKey" not in str(settings.model_dump())


def test_strimzi_scram_without_tls() -> None:
    options = connection_options(
        _settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="exos",
            kafka_sasl_password="pw",
        )
    )
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("exos", "pw")
    assert "ssl_context" not in options


@pytest.mark.parametrize(
    ("setting", "expected"), [("lz4", "lz4"), ("gzip", "gzip"), ("zstd", "zstd"), ("none", None)]
)
def test_producer_compression_follows_the_setting(setting: str, expected: str | None) -> None:
    settings = _settings(kafka_compression=setting)
    options = producer_options(settings, connection_options(settings))
    assert options["compression_type"] == expected
    assert options["acks"] == "all" and options["enable_idempotence"] is True


def test_default_compression_is_lz4() -> None:
    settings = _settings()
    assert producer_options(settings, {})["compression_type"] == "lz4"


def test_unknown_compression_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka_compression"):
        _settings(kafka_compression="brotli")
