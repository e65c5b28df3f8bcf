"""`exos kafka start|stop`: a local Apache Kafka broker (KRaft) for development and tests.

The broker runs detached from the command, so `start` returns once the broker acknowledges
a produce request and `stop` finds it again through the pid file in the data folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exos_common.localkafka import (
    BrokerStartError,
    KafkaFetchError,
    start_local_broker,
    stop_broker,
)

app = typer.Typer(
    help="A local Apache Kafka broker (KRaft, single node) for development and tests.",
    no_args_is_help=True,
)

DataOption = Annotated[
    Path,
    typer.Option("--data", help="Folder owning the broker's logs, config and pid file."),
]


@app.command()
def start(
    port: Annotated[int, typer.Option(help="Client (PLAINTEXT) port on 127.0.0.1.")] = 9092,
    data: DataOption = Path("./.exos/kafka"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 120.0,
) -> None:
    """Start a broker in the background; return once it accepts produce requests."""
    try:
        broker = start_local_broker(data, port, timeout_s=timeout)
    except (BrokerStartError, KafkaFetchError) as exc:
        typer.echo(f"exos kafka start: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"Kafka {broker.kafka_version} ready on {broker.bootstrap} "
        f"(pid {broker.pid}, data {broker.data_dir}, {broker.startup_s:.1f} s)",
        err=True,
    )
    # stdout carries only the bootstrap address so scripts can capture it.
    typer.echo(broker.bootstrap)


@app.command()
def stop(data: DataOption = Path("./.exos/kafka")) -> None:
    """Stop the broker started from this data folder (SIGTERM, SIGKILL after 30 s)."""
    if stop_broker(data):
        typer.echo(f"Kafka broker in {data} stopped", err=True)
    else:
        typer.echo(f"no Kafka broker running from {data}", err=True)
