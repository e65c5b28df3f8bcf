"""Logging for every EXOS process, on stderr: JSON lines for machines, short readable
lines for a person at a terminal.

`EXOS_LOG_FORMAT=auto` (the default) picks by where stderr goes: a terminal gets the
readable form, anything else (a pipe, a file, a container's log driver) JSON, one object
per line. `json` or `console` forces one. Standard-library loggers (uvicorn, aiokafka,
clickhouse-connect) go through the same renderer, so a log pipeline sees one format.

Quiet by default: httpx's and httpcore's per-request lines (one per OTLP request the demo
loader sends, one per model call) are kept at WARNING and above, and a process that runs
several uvicorn servers and prints its own addresses (`exos up`) asks for uvicorn's
start-up lines to be left out with `server_banner=False`. `EXOS_LOG_LEVEL=DEBUG` shows
everything.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Literal, TextIO

import structlog

from exos_common.settings import RuntimeSettings

Format = Literal["json", "console"]

# Loggers that speak at INFO for every request they make; their warnings still show.
CHATTY_LOGGERS = ("httpx", "httpcore")
# uvicorn's start-up and shutdown lines ("Started server process", "Uvicorn running on").
SERVER_BANNER_LOGGER = "uvicorn.error"


def resolve_format(setting: str, stream: TextIO) -> Format:
    """The format for `stream`: `auto` is `console` on a terminal and `json` otherwise."""
    if setting in ("json", "console"):
        return setting  # type: ignore[return-value]
    isatty = getattr(stream, "isatty", None)
    try:
        return "console" if isatty is not None and isatty() else "json"
    except ValueError:  # a closed stream is no terminal
        return "json"


def configure_logging(
    settings: RuntimeSettings | None = None,
    *,
    service: str = "exos",
    server_banner: bool = True,
    stream: TextIO | None = None,
) -> Format:
    """Route structlog and the standard library to `stream` (default stderr) in the
    format `settings.log_format` resolves to, and return that format."""
    settings = settings or RuntimeSettings()
    stream = stream if stream is not None else sys.stderr
    chosen = resolve_format(settings.log_format, stream)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True)
        if chosen == "json"
        else structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderers(chosen, service, stream),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # Asking for DEBUG means asking for everything, per-request lines included.
    quiet = logging.NOTSET if settings.log_level == "DEBUG" else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    banner_level = logging.NOTSET if server_banner else quiet
    logging.getLogger(SERVER_BANNER_LOGGER).setLevel(banner_level)
    return chosen


def _renderers(chosen: Format, service: str, stream: TextIO) -> list[Any]:
    if chosen == "json":
        return [_add_service(service), structlog.processors.JSONRenderer()]
    # A person at a terminal knows which process they started: no service field. Colours
    # only on a terminal, and not when NO_COLOR (https://no-color.org) is set.
    colors = resolve_format("auto", stream) == "console" and "NO_COLOR" not in os.environ
    return [structlog.dev.ConsoleRenderer(colors=colors)]


def _add_service(service: str) -> Any:
    def add(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return add


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
