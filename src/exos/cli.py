"""Entry point of the `exos` command. Each command group lives in its own module under
`exos.commands`; this module only assembles them so names and flags stay in one place."""

from __future__ import annotations

import typer

from exos.commands import clickhouse, demo, kafka, migrate, serve, up

app = typer.Typer(
    name="exos",
    help="EXOS Analytics: session replay, product analytics, site health, process mining.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(clickhouse.app, name="clickhouse")
app.add_typer(kafka.app, name="kafka")
app.add_typer(demo.app, name="demo")
app.command("migrate")(migrate.migrate)
app.command("serve")(serve.serve)
app.command("up")(up.up)


def main() -> None:
    app()
