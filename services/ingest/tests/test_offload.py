"""The bounded slots: a request that finds none free within the wait is refused 429
with Retry-After, and no slot leaks whatever happens to the waiters."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from ingest_testkit import API_KEY, AppClient

from exos_ingest.errors import IngestError
from exos_ingest.offload import DecodeSlots


async def test_a_request_without_a_free_slot_is_refused_429() -> None:
    slots = DecodeSlots(slots=1, workers=1, wait_s=0.05, retry_after_s=7)
    try:
        async with slots.slot():
            with pytest.raises(IngestError) as refused:
                async with slots.slot():
                    pass
        assert (refused.value.status, refused.value.retry_after_s) == (429, 7)
        # The held slot was released and the refused waiter took none: two in a row work.
        for _ in range(2):
            async with slots.slot():
                pass
    finally:
        slots.close()


async def test_cancelled_waiters_leave_no_slot_behind() -> None:
    slots = DecodeSlots(slots=1, workers=1, wait_s=5, retry_after_s=1)

    async def wait_for_slot() -> None:
        async with slots.slot():
            await asyncio.sleep(10)

    try:
        holder = asyncio.create_task(wait_for_slot())
        await asyncio.sleep(0.01)
        waiters = [asyncio.create_task(wait_for_slot()) for _ in range(3)]
        await asyncio.sleep(0.01)
        for task in (holder, *waiters):
            task.cancel()
        await asyncio.gather(holder, *waiters, return_exceptions=True)
        async with asyncio.timeout(1):
            async with slots.slot():
                pass
    finally:
        slots.close()


async def test_work_runs_on_the_pool_not_the_loop() -> None:
    slots = DecodeSlots(slots=1, workers=1, wait_s=1, retry_after_s=1)
    try:
        name = await slots.run(lambda: threading.current_thread().name)
        assert name.startswith("ingest-decode")
    finally:
        slots.close()


async def test_the_app_answers_429_with_retry_after_when_saturated(
    make_client: AppClient,
) -> None:
    client: httpx.AsyncClient = await make_client(
        ingest_max_concurrent_requests=1, ingest_queue_wait_s=0.05, ingest_retry_after_s=3
    )
    slots = client._transport.app.state.slots  # type: ignore[attr-defined]
    async with slots.slot():
        response = await client.post(
            "/v1/logs",
            content=b"{}",
            headers={"content-type": "application/json", "authorization": API_KEY},
        )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    body = response.json()
    assert "concurrent requests" in body["message"]
    assert body["code"] == 8  # RESOURCE_EXHAUSTED, as the Collector answers 429
