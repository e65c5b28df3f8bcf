"""The bookkeeping of the hostile tests catches what it is there to catch: a 5xx, a busy
answer without Retry-After, a slow answer, a wrong partial_success count; and a busy
answer is retried so its records still count once."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from . import ledger as ledger_module
from .ledger import send_all
from .traffic import JSON, LOGS, TRACES, OtlpRequest


def request(name: str, records: int = 3, rejected: int | None = 0) -> OtlpRequest:
    return OtlpRequest(name, TRACES, b"{}", JSON, frozenset({200}), records, rejected)


def answer(status: int, rejected: int = 0, **headers: str) -> httpx.Response:
    body = {"partialSuccess": {"rejectedSpans": str(rejected)}} if rejected else {}
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def scripted(*answers: httpx.Response) -> ledger_module.Post:
    queue = list(answers)

    async def post(_: OtlpRequest) -> httpx.Response:
        return queue.pop(0)

    return post


async def test_accepted_is_records_minus_partial_success_rejections() -> None:
    result = await send_all(scripted(answer(200, rejected=1)), [request("a", 3, 1)])
    assert (result.accepted, result.rejected, result.problems) == ({TRACES: 2, LOGS: 0}, 1, [])


async def test_a_500_is_a_problem_and_counts_nothing() -> None:
    result = await send_all(scripted(answer(500)), [request("a")])
    assert result.problems == ["a: 500, expected [200]"]
    assert result.accepted == {TRACES: 0, LOGS: 0}


async def test_a_wrong_rejection_count_is_a_problem() -> None:
    result = await send_all(scripted(answer(200, rejected=2)), [request("a", 3, 1)])
    assert result.problems == ["a: 2 rejected, expected 1"]


async def test_a_busy_answer_is_retried_after_its_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited: list[float] = []

    async def no_wait(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(ledger_module, "wait_retry_after", no_wait)
    busy = answer(429, **{"retry-after": "2"})
    result = await send_all(scripted(busy, answer(200)), [request("a")])
    assert (result.retried, waited, result.problems) == (1, [2.0], [])
    assert result.statuses == {429: 1, 200: 1}
    assert result.accepted[TRACES] == 3


async def test_a_busy_answer_without_retry_after_is_a_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr(ledger_module, "wait_retry_after", no_wait)
    result = await send_all(scripted(answer(503), answer(200)), [request("a")])
    assert result.problems == ["a: 503 without Retry-After"]


async def test_an_answer_slower_than_the_bound_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "ANSWER_BOUND_S", 0.05)

    async def hang(_: OtlpRequest) -> httpx.Response:
        await asyncio.sleep(1)
        return answer(200)

    with pytest.raises(TimeoutError):
        await send_all(hang, [request("a")])
