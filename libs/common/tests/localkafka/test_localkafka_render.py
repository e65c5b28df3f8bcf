"""Pure pieces of the local Kafka broker: rendered files, cache lookup, guards."""

from __future__ import annotations

import base64
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from exos_common.localkafka import (
    BrokerConfig,
    BrokerStartError,
    KafkaDist,
    KafkaFetchError,
    fetch_kafka,
    render_log4j2_properties,
    render_pom,
    render_server_properties,
    start_broker,
    stop_broker,
)
from exos_common.localkafka.broker import random_cluster_id, read_pid

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_server_properties_single_node_kraft() -> None:
    cfg = BrokerConfig(
        Path("/data/k"), port=19092, controller_port=19093, max_message_bytes=8 << 20
    )

    props = _properties(render_server_properties(cfg))

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == "/data/k/kraft-logs"
    assert cfg.bootstrap == "127.0.0.1:19092"


def test_server_properties_limits_and_test_speed() -> None:
    cfg = BrokerConfig(Path("/d"), port=1, controller_port=2, max_message_bytes=8 * 1024 * 1024)

    props = _properties(render_server_properties(cfg))

    assert props["message.max.bytes"] == "8388608"
    assert props["replica.fetch.max.bytes"] == "8388608"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key


def test_pom_pins_kafka_logging_binding_and_plugin() -> None:
    root = ET.fromstring(render_pom("4.1.1", log4j_version="2.24.3"))

    deps = {
        (
            d.findtext("m:groupId", namespaces=POM_NS),
            d.findtext("m:artifactId", namespaces=POM_NS),
        ): (d.findtext("m:version", namespaces=POM_NS))
        for d in root.iterfind("m:dependencies/m:dependency", POM_NS)
    }
    assert deps == {
        ("org.apache.kafka", "kafka_2.13"): "4.1.1",
        ("org.apache.logging.log4j", "log4j-api"): "2.24.3",
        ("org.apache.logging.log4j", "log4j-core"): "2.24.3",
        ("org.apache.logging.log4j", "log4j-slf4j-impl"): "2.24.3",
    }
    plugin = root.find("m:build/m:plugins/m:plugin", POM_NS)
    assert plugin is not None
    assert plugin.findtext("m:artifactId", namespaces=POM_NS) == "maven-dependency-plugin"
    assert plugin.findtext("m:version", namespaces=POM_NS) == "3.8.1"
    assert plugin.findtext("m:configuration/m:includeScope", namespaces=POM_NS) == "runtime"


def test_log4j2_writes_a_rolling_file() -> None:
    props = _properties(render_log4j2_properties(Path("/d/logs/server.log")).replace(" = ", "="))

    assert props["appender.file.type"] == "RollingFile"
    assert props["appender.file.fileName"] == "/d/logs/server.log"
    assert props["rootLogger.appenderRef.file.ref"] == "file"


def test_cluster_id_is_a_kafka_uuid() -> None:
    for _ in range(200):
        cluster_id = random_cluster_id()
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_fetch_reuses_complete_cache_without_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "kafka" / "9.9.9"
    (home / "libs").mkdir(parents=True)
    (home / "READY").write_text("9.9.9\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no mvn, no network

    dist = fetch_kafka("9.9.9", tmp_path)

    assert dist == KafkaDist(version="9.9.9", home=home, cached=True)
    assert dist.classpath == f"{home}/libs/*"


def test_fetch_ignores_incomplete_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kafka" / "9.9.9" / "libs").mkdir(parents=True)  # no READY marker
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))

    with pytest.raises(KafkaFetchError, match="mvn"):
        fetch_kafka("9.9.9", tmp_path)


def test_start_refuses_a_busy_port(tmp_path: Path) -> None:
    dist = KafkaDist(version="0", home=tmp_path / "nowhere", cached=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(BrokerStartError, match="already in use"):
            start_broker(dist, tmp_path, port, max_message_bytes=1 << 20)


def test_stop_without_broker_and_stale_pid_file(tmp_path: Path) -> None:
    assert stop_broker(tmp_path) is False
    (tmp_path / "kafka.pid").write_text("999999999\n")  # no such process

    assert read_pid(tmp_path) is None
    assert stop_broker(tmp_path) is False
    assert not (tmp_path / "kafka.pid").exists()
