"""Records per second per API key: the token bucket alone (a hand-turned clock), then
over HTTP (429 + Retry-After before the body is read, keys independent)."""

from __future__ import annotations

from typing import Any

import ingest_samples as sample
import pytest
from ingest_testkit import API_KEY
from prometheus_client.parser import text_string_to_metric_families

from exos_ingest.rate_limit import RecordRateLimiter
from exos_ingest.settings import IngestSettings


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_bucket_lets_the_burst_through_then_waits_for_the_debt() -> None:
    clock = Clock()
    limiter = RecordRateLimiter(5, 10, clock)
    assert limiter.wait_s("k") == 0
    limiter.charge("k", 30)  # 10 - 30 = -20 tokens
    assert limiter.wait_s("k") == 4  # 20 tokens at 5/s
    clock.now_s += 2  # -10
    assert limiter.wait_s("k") == 2
    clock.now_s += 1.9  # -0.5: still in debt, a whole second is announced
    assert limiter.wait_s("k") == 1
    clock.now_s += 0.2  # +0.5
    assert limiter.wait_s("k") == 0


def test_an_empty_bucket_is_not_in_debt_one_record_more_is() -> None:
    limiter = RecordRateLimiter(4, 8, Clock())
    limiter.charge("k", 8)
    assert limiter.wait_s("k") == 0
    limiter.charge("k", 1)
    assert limiter.wait_s("k") == 1  # 0.25 s, announced as a whole second


def test_refill_stops_at_the_burst() -> None:
    clock = Clock()
    limiter = RecordRateLimiter(5, 10, clock)
    clock.now_s += 3600  # an idle hour refills 10, not 18,000
    limiter.charge("k", 11)
    assert limiter.wait_s("k") == 1  # -1 token at 5/s -> 0.2 s, announced as 1


def test_keys_have_their_own_buckets() -> None:
    limiter = RecordRateLimiter(1, 1, Clock())
    limiter.charge("leaked", 100)
    assert limiter.wait_s("leaked") == 99
    assert limiter.wait_s("other") == 0


def test_rate_zero_is_off() -> None:
    limiter = RecordRateLimiter(0, 0, Clock())
    limiter.charge("k", 10**9)
    assert not limiter.enabled
    assert limiter.wait_s("k") == 0


def test_a_clock_going_back_refills_nothing() -> None:
    clock = Clock()
    limiter = RecordRateLimiter(1, 5, clock)
    limiter.charge("k", 7)  # -2
    clock.now_s -= 50
    assert limiter.wait_s("k") == 2


def test_burst_defaults_to_one_second_of_rate() -> None:
    assert IngestSettings(ingest_rate_limit_records_per_s=250).rate_limit_burst == 250
    settings = IngestSettings(ingest_rate_limit_records_per_s=250, ingest_rate_limit_burst=1000)
    assert settings.rate_limit_burst == 1000


def _errors(text: str, reason: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "exos_ingest_errors_total" and s.labels.get("reason") == reason:
                return float(s.value)
    return 0.0


# 0.5 records/s, bucket of 2. The sample body holds 4 spans (click, web vitals,
# console.log, console.error): the first request is let in and leaves the bucket at
# 2 - 4 = -2, i.e. 4 s of debt.
LIMITED = {"ingest_rate_limit_records_per_s": 0.5, "ingest_rate_limit_burst": 2}


async def test_over_the_rate_a_key_gets_429_before_its_body_is_read(make_client: Any) -> None:
    client = await make_client(**LIMITED)
    headers = {"content-type": "application/json", "authorization": API_KEY}
    first = await client.post(
        "/v1/traces", content=sample.json_bytes(sample.hyperdx_traces()), headers=headers
    )
    assert first.status_code == 200
    # A broken body: a 400 would mean it was decoded; the limit answers first.
    second = await client.post("/v1/traces", content=b"{", headers=headers)
    assert second.status_code == 429
    assert second.headers["retry-after"] == "4"
    assert second.json()["code"] == 8  # google.rpc RESOURCE_EXHAUSTED
    assert "EXOS_INGEST_RATE_LIMIT_RECORDS_PER_S" in second.json()["message"]
    # Another key is not held back by the leaked one.
    other = await client.post(
        "/v1/traces",
        content=sample.json_bytes(sample.hyperdx_traces()),
        headers={**headers, "authorization": "Bearer second-key"},
    )
    assert other.status_code == 200
    text = (await client.get("/metrics")).text
    assert _errors(text, "rate_limited") == 1
    assert _errors(text, "bad_json") == 0


async def test_broken_bodies_are_not_free(make_client: Any) -> None:
    """Each request costs a record before decoding, so a key cannot flood with bodies
    that fail to decode. Bucket 2: 2 -> 1 -> 0 -> -1 (an empty bucket is not in debt yet,
    so three get through, all 400), then 429."""
    client = await make_client(**LIMITED)
    headers = {"content-type": "application/json", "authorization": API_KEY}
    statuses = [
        (await client.post("/v1/logs", content=b"{", headers=headers)).status_code for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


async def test_unknown_keys_are_401_and_do_not_touch_the_buckets(make_client: Any) -> None:
    client = await make_client(**LIMITED)
    for _ in range(5):
        refused = await client.post("/v1/traces", content=b"{}", headers={"authorization": "guess"})
        assert refused.status_code == 401
    ok = await client.post(
        "/v1/traces",
        content=sample.json_bytes(sample.hyperdx_traces()),
        headers={"content-type": "application/json", "authorization": API_KEY},
    )
    assert ok.status_code == 200


async def test_open_ingest_shares_one_bucket_whatever_key_is_made_up(make_client: Any) -> None:
    client = await make_client(ingest_api_keys=None, **LIMITED)
    body = sample.json_bytes(sample.hyperdx_traces())
    first = await client.post(
        "/v1/traces", content=body, headers={"content-type": "application/json"}
    )
    assert first.status_code == 200
    made_up = await client.post(
        "/v1/traces",
        content=body,
        headers={"content-type": "application/json", "authorization": "fresh-key-1"},
    )
    assert made_up.status_code == 429


@pytest.mark.parametrize("off", [{}, {"ingest_rate_limit_records_per_s": 0}])
async def test_no_limit_by_default(make_client: Any, off: dict[str, Any]) -> None:
    client = await make_client(**off)
    headers = {"content-type": "application/json", "authorization": API_KEY}
    body = sample.json_bytes(sample.hyperdx_traces())
    for _ in range(5):
        assert (await client.post("/v1/traces", content=body, headers=headers)).status_code == 200
