"""Configure, format, start, wait for and stop a single-node KRaft Kafka broker.

Data folder layout (everything a broker owns, so deleting the folder resets it):
    server.properties, log4j2.properties   rendered on every start
    kraft-logs/                            partitions and the metadata log
    logs/server.log                        broker log (log4j2, rolled)
    kafka.out                              JVM stdout/stderr (crashes before logging starts)
    kafka.pid                              pid of the running broker
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from exos_common.localkafka.fetch import KafkaDist
from exos_common.localkafka.probe import BrokerNotReady, wait_until_accepts_produce

HOST = "127.0.0.1"
NODE_ID = 1
DEFAULT_HEAP = ("-Xmx512m", "-Xms256m")
PID_FILE = "kafka.pid"

# Brokers this process started, kept so they are reaped through Popen (no zombie, no
# "subprocess still running" ResourceWarning when the handle would be collected).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class BrokerStartError(RuntimeError):
    """The broker did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class BrokerConfig:
    data_dir: Path
    port: int
    controller_port: int
    max_message_bytes: int

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft-logs"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


@dataclass(frozen=True)
class RunningBroker:
    bootstrap: str
    pid: int
    data_dir: Path
    kafka_version: str
    startup_s: float  # process start to first acknowledged produce (fetch excluded)


def render_server_properties(cfg: BrokerConfig) -> str:
    # Static voters (not a dynamic `--standalone` quorum) because the controller port is
    # picked free on every start: a dynamic quorum records the voter's endpoint in the
    # formatted storage, so a restart on a new port would look for a controller that is gone.
    props = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{cfg.controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{cfg.port},CONTROLLER://{HOST}:{cfg.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{cfg.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": cfg.log_dirs,
        # One node: every replication factor and ISR minimum must be 1.
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # Fewer internal partitions: the first consumer group starts in a blink.
        "offsets.topic.num.partitions": 4,
        "transaction.state.log.num.partitions": 4,
        "num.partitions": 1,
        "group.initial.rebalance.delay.ms": 0,
        # EXOS creates its topics explicitly; a typo must fail, not create a topic.
        "auto.create.topics.enable": "false",
        # rrweb full snapshots are several MiB.
        "message.max.bytes": cfg.max_message_bytes,
        "replica.fetch.max.bytes": cfg.max_message_bytes,
        "socket.request.max.bytes": max(cfg.max_message_bytes * 2, 100 * 1024 * 1024),
        # A 2-core machine: the defaults (3 network, 8 io threads) only add contention.
        "num.network.threads": 2,
        "num.io.threads": 4,
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def render_log4j2_properties(log_file: Path) -> str:
    # A size-capped rolling file so a long-lived dev broker cannot fill the disk.
    return f"""status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def random_cluster_id() -> str:
    # Kafka's Uuid text form: URL-safe base64 of 16 bytes, no padding; Kafka never hands
    # out ids starting with "-" because they look like command-line flags.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise BrokerStartError("Java 17+ is needed: put `java` on PATH or set JAVA_HOME")
    return java


def java_command(dist: KafkaDist, data_dir: Path, main: str, *args: str) -> list[str]:
    return [
        java_executable(),
        *DEFAULT_HEAP,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={data_dir / 'logs'}",
        "-cp",
        dist.classpath,
        main,
        *args,
    ]


def format_storage(dist: KafkaDist, cfg: BrokerConfig) -> bool:
    """Format the log dirs once; False when they already hold a formatted cluster."""
    if (cfg.log_dirs / "meta.properties").is_file():
        return False
    cmd = java_command(
        dist,
        cfg.data_dir,
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        random_cluster_id(),
        "--config",
        str(cfg.data_dir / "server.properties"),
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BrokerStartError(f"kafka storage format failed:\n{done.stdout}{done.stderr}")
    return True


def start_broker(
    dist: KafkaDist,
    data_dir: Path,
    port: int,
    *,
    max_message_bytes: int,
    timeout_s: float = 120.0,
) -> RunningBroker:
    """Start a detached broker and return once it acknowledges a produce with acks=all."""
    started = time.monotonic()
    data_dir = data_dir.resolve()
    if read_pid(data_dir) is not None:
        raise BrokerStartError(f"a broker already runs from {data_dir} (pid file {PID_FILE})")
    if not port_is_free(port):
        # Otherwise the readiness probe could succeed against whatever already listens.
        raise BrokerStartError(f"port {HOST}:{port} is already in use")
    cfg = BrokerConfig(data_dir, port, free_port(), max_message_bytes)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    (data_dir / "server.properties").write_text(render_server_properties(cfg))
    (data_dir / "log4j2.properties").write_text(render_log4j2_properties(server_log(data_dir)))
    format_storage(dist, cfg)
    cmd = java_command(dist, data_dir, "kafka.Kafka", str(data_dir / "server.properties"))
    with (data_dir / "kafka.out").open("ab") as out:
        # Own session: the broker outlives `exos kafka start` and ignores its Ctrl-C.
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    _CHILDREN[proc.pid] = proc
    (data_dir / PID_FILE).write_text(f"{proc.pid}\n")
    try:
        wait_until_accepts_produce(cfg.bootstrap, timeout_s, alive=lambda: proc.poll() is None)
    except BaseException as exc:
        # Also on Ctrl-C: a half-started broker nobody waits for would hold the port.
        stop_broker(data_dir)
        if isinstance(exc, BrokerNotReady):
            tail = log_tail(data_dir)
            raise BrokerStartError(f"{exc}\n--- broker log tail ---\n{tail}") from exc
        raise
    return RunningBroker(
        cfg.bootstrap, proc.pid, data_dir, dist.version, time.monotonic() - started
    )


def stop_broker(data_dir: Path, timeout_s: float = 30.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout_s`; False when no broker was running."""
    data_dir = data_dir.resolve()
    pid = read_pid(data_dir)
    (data_dir / PID_FILE).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout_s):
        _signal(pid, signal.SIGKILL)
        _wait_gone(pid, 10.0)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own meanwhile
        os.kill(pid, sig)


def read_pid(data_dir: Path) -> int | None:
    """The pid from the pid file if that process is still our broker, else None."""
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_broker_process(pid, data_dir) else None


def is_broker_process(pid: int, data_dir: Path | None = None) -> bool:
    """Alive (not a zombie) and, with `data_dir`, the broker of that folder.

    The command line is checked because after a reboot a stale pid file may name an
    unrelated process; the data folder appears in it through the config paths.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if data_dir is not None and (
        b"kafka.Kafka" not in cmdline or str(data_dir).encode() not in cmdline
    ):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_broker_process(pid):
            return True
        time.sleep(0.1)
    return False


def _reap(pid: int) -> None:
    # A broker started by this process (tests) must be waited for, or it lingers as a
    # zombie; one started by an earlier `exos kafka start` is init's child, nothing to do.
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


def server_log(data_dir: Path) -> Path:
    return data_dir / "logs" / "server.log"


def log_tail(data_dir: Path, lines: int = 40) -> str:
    parts = []
    for path in (server_log(data_dir), data_dir / "kafka.out"):
        if path.is_file():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"[{path}]\n" + "\n".join(tail))
    return "\n".join(parts) or "(no broker log written)"
