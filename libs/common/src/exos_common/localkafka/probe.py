"""Readiness: a broker is ready when it acknowledges a produce request with acks=all.

An open port or a metadata answer is not enough: in KRaft the broker listens before it
has caught up with the metadata log and unfenced itself, and produce requests in that
window fail. Creating a topic and producing to it exercises the controller, the partition
leader and the log, which is what callers rely on next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

PROBE_TOPIC = "__exos_probe"
T = TypeVar("T")


class BrokerNotReady(RuntimeError):
    """The broker did not accept a produce request in time, or its process died."""


def wait_until_accepts_produce(
    bootstrap: str, timeout_s: float, alive: Callable[[], bool] = lambda: True
) -> None:
    """Block until `bootstrap` acknowledges a probe record, or raise BrokerNotReady."""
    deadline = time.monotonic() + timeout_s
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        if not alive():
            raise BrokerNotReady("the broker process exited during start-up")
        try:
            with _quiet_aiokafka():
                _run(_probe(bootstrap, max(1.0, deadline - time.monotonic())))
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise BrokerNotReady(
        f"{bootstrap} did not accept a produce within {timeout_s:.0f} s (last error: {last_error})"
    )


async def _probe(bootstrap: str, timeout_s: float) -> None:
    timeout_ms = int(min(timeout_s, 10.0) * 1000)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(PROBE_TOPIC, 1, 1)], timeout_ms=timeout_ms)
    finally:
        await admin.close()
    for _topic, code, *_ in response.topic_errors:
        # Already there after a restart on an existing data folder: fine.
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"create {PROBE_TOPIC}")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", request_timeout_ms=timeout_ms
    )
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(PROBE_TOPIC, b"ready"), timeout_s)
    finally:
        await producer.stop()


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    # aiokafka logs every refused connection at ERROR; while the broker boots those are
    # expected, and the last one is reported in BrokerNotReady if it never comes up.
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # start_broker is synchronous; when a caller already runs an event loop (an async
    # test or service), asyncio.run would refuse, so the probe gets a thread of its own.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
