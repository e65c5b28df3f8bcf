"""Settings shared by the services, read from `EXOS_*` environment variables.

Every service composes its settings class from the groups below (plus its own fields),
so a variable means the same thing everywhere. `SETTINGS_GROUPS` lists these shared groups;
the configuration table of docs/configuration.md is generated from them plus each service's
settings class (`exos.settings_doc`), and a test fails until the table is regenerated.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def split_list(value: str | None) -> list[str]:
    """Comma-separated values, blanks dropped (env variables cannot hold real lists
    without JSON, which nobody types into a Helm value)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


_CONFIG = SettingsConfigDict(env_prefix="EXOS_", extra="ignore", env_ignore_empty=True)


class RuntimeSettings(BaseSettings):
    """How the process runs: environment, logging, local folders."""

    model_config = _CONFIG

    environment: Literal["development", "production", "test"] = Field(
        "development",
        description="Where this runs: `development`, `test` or `production`.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Minimum level of the log lines written to stderr."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto",
        description="`auto`: readable lines when stderr is a terminal, JSON lines otherwise; "
        "`json` or `console` to force one.",
    )
    instance_id: str = Field(
        default_factory=socket.gethostname,
        description="Stable name of this replica (default: the host name; a StatefulSet "
        "pod name keeps it across restarts). Names enrich's Kafka transactions.",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "exos",
        description="Downloads kept outside git (Kafka jars fetched with Maven).",
    )


class KafkaSettings(BaseSettings):
    """Where the Kafka bus is and how the services use it."""

    model_config = _CONFIG

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    kafka_client_id: str = Field("exos", description="Client id prefix sent to Kafka.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol (Event Hubs: SASL_SSL)."
    )
    kafka_sasl_mechanism: str = Field(
        "PLAIN", description="SASL mechanism when the protocol is SASL_* (PLAIN, SCRAM-SHA-512)."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (Event Hubs: the namespace's connection string)."
    )
    kafka_topic_partitions: int = Field(
        6, ge=1, description="Partitions of the pipeline topics when EXOS creates them."
    )
    kafka_replication_factor: int = Field(
        1, ge=1, description="Replication factor of the pipeline topics when EXOS creates them."
    )
    kafka_max_message_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest message a producer sends and a topic accepts (rrweb snapshots).",
    )
    kafka_compression: Literal["lz4", "gzip", "zstd", "snappy", "none"] = Field(
        "lz4",
        description="Compression of what EXOS produces (Azure Event Hubs accepts `gzip` only).",
    )
    kafka_publish_timeout_s: float = Field(
        10.0, gt=0, description="How long a publish waits for the broker's ack before 503."
    )
    kafka_create_topics: bool = Field(
        True,
        description="Services create missing pipeline topics at start (turn off where "
        "topics are managed elsewhere, e.g. Strimzi KafkaTopic resources).",
    )
    kafka_version: str = Field(
        "4.1.1", description="Apache Kafka version `exos kafka start` fetches with Maven."
    )


class ClickHouseSettings(BaseSettings):
    """Where ClickHouse is: an embedded chDB folder or a ClickHouse HTTP server."""

    model_config = _CONFIG

    clickhouse_url: str = Field(
        "chdb://.exos/clickhouse",
        description="`chdb://PATH` (embedded engine; `chdb:///abs/path` or a path relative "
        "to the working folder) or `http(s)://host:8123` (a ClickHouse server).",
    )
    clickhouse_database: str = Field("default", description="Database holding the EXOS tables.")
    clickhouse_user: str | None = Field(None, description="User for an HTTP ClickHouse.")
    clickhouse_password: SecretStr | None = Field(
        None, description="Password for an HTTP ClickHouse."
    )
    clickhouse_connect_timeout_s: float = Field(10.0, gt=0, description="Connect timeout.")
    clickhouse_query_timeout_s: float = Field(300.0, gt=0, description="Per-request timeout.")
    clickhouse_dedup_window: int = Field(
        10_000,
        ge=0,
        description="Insert blocks remembered per table for `insert_deduplication_token`.",
    )

    @field_validator("clickhouse_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("chdb://", "http://", "https://")):
            raise ValueError("EXOS_CLICKHOUSE_URL must start with chdb://, http:// or https://")
        return value


class RetentionSettings(BaseSettings):
    """How long each table keeps its rows (ClickHouse TTL, applied by `exos migrate`)."""

    model_config = _CONFIG

    retention_traces_days: int = Field(30, ge=1, description="TTL of `otel_traces` in days.")
    retention_logs_days: int = Field(30, ge=1, description="TTL of `otel_logs` in days.")
    retention_sessions_days: int = Field(
        30, ge=1, description="TTL of `hyperdx_sessions` (rrweb replay) in days."
    )


class ClickHouseServerSettings(BaseSettings):
    """The embedded ClickHouse HTTP server (`exos clickhouse serve`)."""

    model_config = _CONFIG

    clickhouse_server_host: str = Field(
        "127.0.0.1", description="Address the embedded ClickHouse server listens on."
    )
    clickhouse_server_port: int = Field(
        8123, ge=0, le=65535, description="Port of the embedded ClickHouse HTTP server."
    )
    clickhouse_server_data: Path = Field(
        Path("./.exos/clickhouse"), description="Data folder the embedded server owns."
    )
    clickhouse_server_password_file: Path | None = Field(
        None,
        description="File holding the password of the embedded server's `default` user; "
        "unset: `<data>/password`, generated (mode 0600) on first start.",
    )
    clickhouse_server_allowed_hosts: str = Field(
        "",
        description="Comma-separated Host names the embedded server answers besides "
        "loopback names and its listen address (DNS rebinding protection).",
    )
    clickhouse_server_allowed_origins: str = Field(
        "",
        description="Comma-separated browser origins (`http://host:port`) allowed to query "
        "the embedded server; browser requests from any other origin are refused.",
    )


class ServeSettings(BaseSettings):
    """Where `exos serve SERVICE` listens (distributed mode: one service per process)."""

    model_config = _CONFIG

    http_host: str = Field(
        "127.0.0.1", description="Listen address of the services (`0.0.0.0` in containers)."
    )
    ingest_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP port of ingest.")
    enrich_port: int = Field(8091, ge=0, le=65535, description="Health/metrics port of enrich.")
    writer_port: int = Field(8092, ge=0, le=65535, description="Health/metrics port of writer.")
    query_api_port: int = Field(8093, ge=0, le=65535, description="Port of query-api.")
    replay_port: int = Field(8094, ge=0, le=65535, description="Port of replay.")
    insights_port: int = Field(8095, ge=0, le=65535, description="Port of insights.")
    gateway_port: int = Field(8080, ge=0, le=65535, description="Port of the gateway (portal).")
    data_dir: Path = Field(
        Path(".exos"), description="Folder of the all-in-one mode (`exos up`): its database."
    )
    demo_scale: float = Field(
        1.0, gt=0, description="Size of the demo `exos up --demo` loads (1 = ~100k spans)."
    )
    demo_seed: int = Field(7, description="Seed of the demo data (same seed, same data).")

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service.replace('-', '_')}_port"))


class InProcessBusSettings(BaseSettings):
    """The durable in-process bus of the all-in-one mode (`exos up`), kept under the data
    folder's `bus/`."""

    model_config = _CONFIG

    bus_fsync: Literal["always", "batch", "never"] = Field(
        "batch",
        description="When the bus log reaches the disk before a publish or commit is "
        "acknowledged: `batch` fsyncs once for all writes waiting together, `always` once "
        "per write, `never` leaves it to the OS (safe against a killed process, not a "
        "power cut).",
    )
    bus_max_pending_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes on the bus that some consumer group has not committed yet; "
        "beyond it a publish is refused and ingest answers 503 with Retry-After.",
    )
    bus_segment_bytes: int = Field(
        64 * 1024 * 1024,
        ge=64 * 1024,
        description="Size at which a partition's log starts a new segment file (whole "
        "segments are deleted once every group committed past them).",
    )


ROLE_NAMES = ("viewer", "analyst", "admin")


class ServiceTrustSettings(BaseSettings):
    """How the read services (query-api, replay, insights) know a request came through
    the gateway, and which roles see personal data in their answers."""

    model_config = _CONFIG

    service_secret: SecretStr | None = Field(
        None,
        description="Shared secret the gateway sends to query-api, replay and insights on "
        "every request (`X-Exos-Service-Credential`); they answer 401 without it. The same "
        "value on the gateway and the read services; keep it in a Kubernetes secret (the "
        "chart makes one). Unset: `exos serve` of a read service refuses to start unless "
        "EXOS_READ_ALLOW_ANONYMOUS=true; `exos up` needs none (one process).",
    )
    read_allow_anonymous: bool = Field(
        False,
        description="`true` lets `exos serve query-api|replay|insights` run without "
        "EXOS_SERVICE_SECRET: anyone who reaches them reads everything (a warning is logged).",
    )
    pii_roles: str = Field(
        "analyst,admin",
        description="Comma-separated roles that see e-mails, user names, client IPs and "
        "session replays (recordings, drill-down tabs) and may use the SQL console; other "
        "roles get them masked or refused (403).",
    )

    @field_validator("pii_roles")
    @classmethod
    def _known_roles(cls, value: str) -> str:
        unknown = [r for r in split_list(value) if r.lower() not in ROLE_NAMES]
        if unknown:
            raise ValueError(f"EXOS_PII_ROLES: unknown roles {unknown} (one of {ROLE_NAMES})")
        return value

    @property
    def roles_seeing_pii(self) -> frozenset[str]:
        return frozenset(r.lower() for r in split_list(self.pii_roles))


class StoreSettings(ClickHouseSettings, RetentionSettings):
    """What a process that reads or writes the EXOS tables needs."""


# NOTE to service authors: do not import service settings here (exos_common must never
# import a service; that was a circular dependency). The configuration table picks service
# settings up by itself from `exos_<service>.settings` (see src/exos/settings_doc.py).

SETTINGS_GROUPS: tuple[type[BaseSettings], ...] = (
    RuntimeSettings,
    KafkaSettings,
    ClickHouseSettings,
    RetentionSettings,
    ClickHouseServerSettings,
    ServeSettings,
    InProcessBusSettings,
    ServiceTrustSettings,
)
