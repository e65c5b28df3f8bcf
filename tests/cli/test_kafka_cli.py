"""`exos kafka start|stop` end to end: its own broker, stopped, restarted on the same data."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from typer.testing import CliRunner

from exos.commands.kafka import app
from exos_common.localkafka import free_port, stop_broker

pytestmark = pytest.mark.kafka


def _processes_using(data_dir: Path) -> list[int]:
    # Every broker JVM names its data folder on the command line (log4j2 config path).
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(data_dir).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _cluster_id(data_dir: Path) -> str:
    meta = (data_dir / "kraft-logs" / "meta.properties").read_text()
    return next(
        line.split("=", 1)[1] for line in meta.splitlines() if line.startswith("cluster.id=")
    )


async def _produce(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"kept across restarts", key=b"k1")
    finally:
        await producer.stop()


async def _read_first(bootstrap: str, topic: str) -> tuple[bytes | None, bytes | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    return record.key, record.value


async def test_start_stop_restart_on_existing_data(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "kafka"
    topic = f"cli-{uuid.uuid4().hex[:8]}"
    try:
        port = free_port()
        started = runner.invoke(app, ["start", "--port", str(port), "--data", str(data)])
        assert started.exit_code == 0, started.output
        assert started.stdout.strip() == f"127.0.0.1:{port}"
        pid = int((data / "kafka.pid").read_text())
        assert _processes_using(data) == [pid]
        cluster_id = _cluster_id(data)
        await _produce(f"127.0.0.1:{port}", topic)

        stopped = runner.invoke(app, ["stop", "--data", str(data)])
        assert stopped.exit_code == 0, stopped.output
        assert _processes_using(data) == []
        assert not (data / "kafka.pid").exists()

        port = free_port()
        restarted = runner.invoke(app, ["start", "--port", str(port), "--data", str(data)])
        assert restarted.exit_code == 0, restarted.output
        assert _cluster_id(data) == cluster_id  # not re-formatted
        assert await _read_first(f"127.0.0.1:{port}", topic) == (b"k1", b"kept across restarts")
        assert runner.invoke(app, ["stop", "--data", str(data)]).exit_code == 0
        assert _processes_using(data) == []
    finally:
        stop_broker(data)


def test_stop_without_broker_is_harmless(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["stop", "--data", str(tmp_path)])

    assert result.exit_code == 0
    assert "no Kafka broker running" in result.output
