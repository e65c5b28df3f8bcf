"""The loader's HTTP behaviour (retries, refusals, what it counts) and `exos demo load`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from exos.commands import demo as demo_command
from exos.commands.demo import app
from exos.demo.calendar import days_past_retention
from exos.demo.loader import DemoLoadError, DemoSummary, load_demo
from exos.demo.scenario import SessionPlan, build_world
from exos_common.testing import dates

# The latest Friday 17:00 UTC before the run (11:00 or 12:00 in Chicago): the data stays
# inside the tables' retention and its last hours are office hours, on any run date.
ANCHOR = dates.DEMO_ANCHOR


async def test_503_is_retried_after_retry_after_and_everything_is_counted() -> None:
    seen: Counter[str] = Counter()
    refused_once: set[str] = set()

    async def ingest(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "k"
        path = request.url.path
        if path not in refused_once:
            refused_once.add(path)
            return httpx.Response(503, headers={"retry-after": "0"}, json={"code": 14})
        seen[path] += 1
        if path == "/v1/traces":
            assert request.headers["content-type"] == "application/json"
            return httpx.Response(200, json={})
        assert request.headers["content-encoding"] == "gzip"
        return httpx.Response(200, content=b"", headers={"content-type": "application/x-protobuf"})

    summary = await load_demo(
        "http://ingest",
        scale=0.02,
        seed=3,
        api_key="k",
        progress=False,
        anchor=ANCHOR,
        transport=httpx.MockTransport(ingest),
    )
    assert summary.retries == 2  # one 503 per endpoint
    assert summary.requests == seen["/v1/traces"] + seen["/v1/logs"]
    assert summary.sessions > 10
    assert summary.spans > 1000 and summary.rrweb_events > 100 and summary.log_records > 50
    assert summary.replay_chunks >= summary.rrweb_events
    assert summary.start is not None and summary.end == ANCHOR
    assert ("Process Mining", "http://127.0.0.1:8080/process-mining") in summary.links


async def test_skipped_sessions_are_not_sent() -> None:
    sent: set[str] = set()

    async def ingest(request: httpx.Request) -> httpx.Response:
        return (
            httpx.Response(200, json={})
            if request.url.path == "/v1/traces"
            else httpx.Response(200)
        )

    def record(_: DemoSummary, plan: SessionPlan) -> None:
        sent.add(plan.session_id)

    world = build_world(3, 0.02, ANCHOR)
    done = {plan.session_id for plan in world.sessions[::2]}
    summary = await load_demo(
        "http://ingest",
        scale=0.02,
        seed=3,
        progress=False,
        anchor=ANCHOR,
        transport=httpx.MockTransport(ingest),
        skip_sessions=done,
        on_session=record,
    )
    assert sent == {plan.session_id for plan in world.sessions} - done
    assert summary.sessions == len(sent)


async def test_a_refusal_stops_the_load_with_the_servers_message() -> None:
    async def ingest(_: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": 16, "message": "missing or unknown API key"})

    with pytest.raises(DemoLoadError, match=r"401.*unknown API key"):
        await load_demo(
            "http://ingest",
            scale=0.02,
            progress=False,
            anchor=ANCHOR,
            transport=httpx.MockTransport(ingest),
        )


def test_cli_prints_the_summary_and_the_links(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []

    async def fake_load(url: str, **kwargs: object) -> DemoSummary:
        calls.append({"url": url, **kwargs})
        summary = DemoSummary(seed=9, scale=0.5, url=url, orders=210, sessions=200, spans=50_000)
        summary.links = [("Process Mining", "http://portal/process-mining")]
        return summary

    monkeypatch.setattr(demo_command, "load_demo", fake_load)
    result = CliRunner().invoke(
        app, ["load", "--scale", "0.5", "--seed", "9", "--url", "http://x:4318", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["url"] == "http://x:4318"
    assert (calls[0]["scale"], calls[0]["seed"], calls[0]["progress"]) == (0.5, 9, False)
    assert "50,000" in result.output and "http://portal/process-mining" in result.output


def test_cli_refuses_a_non_positive_scale() -> None:
    result = CliRunner().invoke(app, ["load", "--scale", "0"])
    assert result.exit_code == 2


def test_cli_warns_when_the_anchor_puts_data_past_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fake_load(url: str, **kwargs: object) -> DemoSummary:
        return DemoSummary(seed=7, scale=1.0, url=url)

    monkeypatch.setattr(demo_command, "load_demo", fake_load)
    monkeypatch.setenv("EXOS_RETENTION_TRACES_DAYS", "30")
    # The range is the 14 days before the anchor; 20 days ago, its first 4 days are past 30.
    old = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S")
    result = CliRunner().invoke(app, ["load", "--anchor", old, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "The first 4.0 of the 14 days before --anchor are older" in result.output
    recent = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    result = CliRunner().invoke(app, ["load", "--anchor", recent, "--no-progress"])
    assert "retention" not in result.output


def test_days_past_retention_counts_the_expired_part_of_the_range() -> None:
    now = dates.DEMO_ANCHOR + timedelta(days=1)
    assert days_past_retention(now - timedelta(days=1), 30, now) == 0.0
    assert days_past_retention(now - timedelta(days=20), 30, now) == 4.0
    assert days_past_retention(now - timedelta(days=60), 30, now) == 44.0
