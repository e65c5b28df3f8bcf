"""Test data never ages out of the tables: on any run date, every fixture world lies inside
the tables' retention, and no test stores rows at a literal calendar date.

Rows older than the TTL vanish as they are inserted, so a world written at a fixed date
passes the day it is written and fails weeks later (42 tests once did). The worlds take
their moments from `exos_common.testing.dates`; this module checks that those moments
work for every day of the coming years, that the worlds' expected values hold when the
run is shifted 60 and 400 days, and that no new literal date slips into a test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from exos_common.settings import StoreSettings
from exos_common.testing import dates

ROOT = Path(__file__).resolve().parents[1]
DAYS_CHECKED = 800
# A test session may run for an hour or two after it fixed its dates; a day of margin.
MARGIN = timedelta(days=1)
# The weekly worlds (query-api, replay, insights) store rows from day 0 (Monday) 08:59 on
# and query up to day 18 00:00 at the latest.
WORLD_FIRST_DAY, WORLD_LAST_DAY = 0, 18
DEMO_WINDOW = timedelta(days=14)


def run_dates() -> list[datetime]:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Every day at midnight and just before the next, the two edges of a day.
    return [start + timedelta(days=d, seconds=s) for d in range(DAYS_CHECKED) for s in (1, 86_399)]


def shortest_retention() -> timedelta:
    settings = StoreSettings()
    days = min(settings.retention_traces_days, settings.retention_logs_days)
    return timedelta(days=days)


def test_weekly_worlds_are_inside_retention_and_in_the_past_on_every_run_date() -> None:
    retention = shortest_retention()
    for now in run_dates():
        monday = dates.world_monday(now.date()).replace(tzinfo=UTC)
        first = monday + timedelta(days=WORLD_FIRST_DAY)
        last = monday + timedelta(days=WORLD_LAST_DAY)
        assert monday.weekday() == 0, now
        assert first >= now - retention + MARGIN, (now, first)
        assert last < now, (now, last)


def test_demo_anchor_is_a_recent_friday_whose_window_is_inside_retention() -> None:
    retention = shortest_retention()
    for now in run_dates():
        anchor = dates.demo_anchor(now)
        assert (anchor.weekday(), anchor.hour) == (dates.FRIDAY, dates.DEMO_ANCHOR_HOUR_UTC)
        assert now - timedelta(days=7) <= anchor < now, (now, anchor)  # "last 7 days" sees it
        assert anchor - DEMO_WINDOW >= now - retention + MARGIN, (now, anchor)


def test_the_shift_moves_the_session_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dates.SHIFT_ENV, "400")
    shifted = dates.session_now().date()
    assert shifted - datetime.now(UTC).date() == timedelta(days=400)
    assert dates.world_monday(date(2026, 12, 7)) == datetime(2026, 11, 16)  # literal: a rule
    assert dates.world_monday(date(2026, 12, 13)) == datetime(2026, 11, 16)  # literal: a rule


# The worlds whose expected values are written against day offsets. Run again as if the
# suite ran later, they must give the same answers (the rows then lie in the engine's
# future, which no TTL removes; the demo's "last 7 days" queries are checked above).
SHIFTED_SUITES = [
    "services/query-api/tests/test_analytics_api.py",
    "services/query-api/tests/test_site_health_api.py",
    "services/query-api/tests/test_stats_api.py",
    "services/query-api/tests/test_process_api.py",
    "services/query-api/tests/test_ocpm_api.py",
    "services/replay/tests/test_sessions_api.py",
    "tests/demo/test_demo_world.py",
    "tests/demo/test_demo_sessions.py",
]


@pytest.mark.parametrize("days", [60, 400])
def test_worlds_give_the_same_answers_when_the_run_is_shifted(days: int) -> None:
    env = {**os.environ, dates.SHIFT_ENV: str(days)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SHIFTED_SUITES]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout.splitlines()[-1]


# Literal dates that are no stored data, each with the reason it may stay.
ALLOWED_LITERALS = {
    ("tests/gateway/test_portal_shell.py", "2026-01-01"): "a URL parameter carried over",
    ("services/gateway/tests/test_auth_tokens.py", "2026-01-01"): "a URL parameter carried over",
    ("libs/common/tests/chserver/test_chserver_clickhouse_connect.py", "2024"): "own table, no TTL",
    ("libs/common/tests/store/test_store_contract.py", "2026"): "own table, no TTL",
    ("services/enrich/tests/test_visitor.py", "2024-06-18"): "the GeoIP data's release date",
    ("services/insights/tests/test_guard_rules.py", "2026-11-01"): "a result row formatted",
}
LITERAL_DATE = re.compile(r"\b(20\d\d)-\d\d-\d\d\b|datetime\(\s*(20\d\d)\s*,")
TEST_FOLDERS = [
    "tests",
    "libs/common/tests",
    *[f"services/{s.name}/tests" for s in (ROOT / "services").iterdir()],
    "bench",
]


def literal_dates() -> list[tuple[str, int, str]]:
    found = []
    for folder in TEST_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" in path.parts or path == Path(__file__).resolve():
                continue
            relative = str(path.relative_to(ROOT))
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in LITERAL_DATE.finditer(line):
                    text = match.group(0)
                    if not any(
                        relative == file and literal in text for file, literal in ALLOWED_LITERALS
                    ):
                        found.append((relative, number, line.strip()))
    return found


def test_no_test_stores_rows_at_a_literal_date() -> None:
    assert literal_dates() == [], (
        "take moments from exos_common.testing.dates (on, iso, DEMO_ANCHOR) so the rows stay "
        "inside the tables' retention on any run date"
    )
