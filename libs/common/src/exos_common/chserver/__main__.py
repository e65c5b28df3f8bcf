"""`python -m exos_common.chserver`: the server without the `exos` CLI, which the test
plugin starts as a subprocess (exos_common must not depend on the `exos` package)."""

from __future__ import annotations

import argparse
from pathlib import Path

from exos_common.chserver.server import serve
from exos_common.settings import ClickHouseServerSettings, RuntimeSettings


def main(argv: list[str] | None = None) -> None:
    defaults = ClickHouseServerSettings()
    parser = argparse.ArgumentParser(prog="python -m exos_common.chserver", description=__doc__)
    parser.add_argument("--data", type=Path, default=defaults.clickhouse_server_data)
    parser.add_argument("--host", default=defaults.clickhouse_server_host)
    parser.add_argument("--port", type=int, default=defaults.clickhouse_server_port)
    parser.add_argument("--password-file", type=Path, default=None)
    args = parser.parse_args(argv)
    runtime = RuntimeSettings()
    serve(
        args.data,
        args.host,
        args.port,
        password_file=args.password_file,
        on_ready=lambda url: print(url, flush=True),  # stdout: only the URL, for scripts
        log_level=runtime.log_level,
        log_format=runtime.log_format,
    )


if __name__ == "__main__":
    main()
