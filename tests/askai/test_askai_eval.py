"""The Ask AI evaluation (bench/askai): the comparison of result sets, and the runner on a
small demo load with an oracle model (the fake model answering with the gold SQL): every
gold statement passes the guard and runs, and the runner scores them all as matches.
Real models are not run here (see bench/askai/README.md)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exos_common.settings import StoreSettings
from exos_common.store import Store, open_store

ASKAI = Path(__file__).resolve().parents[2] / "bench" / "askai"
sys.path.insert(0, str(ASKAI))

import demo_db  # noqa: E402
import run  # noqa: E402
from compare import matches  # noqa: E402


def test_matching_ignores_column_order_extra_columns_and_number_form() -> None:
    gold = [["Alice", 2], ["Bob", 1]]
    assert matches(gold, [[2, "Alice"], [1, "Bob"]])
    assert matches(gold, [["Bob", 1.0, "x"], ["Alice", 2.0, "y"]])  # rows in any order
    assert matches([[66.666]], [["66.67"]])
    assert not matches(gold, [["Alice", 2]])  # a row missing
    assert not matches(gold, [["Alice", 1], ["Bob", 2]])  # values swapped between rows
    assert not matches(gold, [["Alice"], ["Bob"]])  # a gold column missing
    assert not matches(gold, [["Bob", 1], ["Alice", 2]], ordered=True)
    assert matches(gold, [["Alice", 2], ["Bob", 1]], ordered=True)
    assert matches([], [])


def test_the_set_has_at_least_40_distinct_questions() -> None:
    questions = run.load_questions()
    assert len(questions) >= 40
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.question for q in questions}) == len(questions)


@pytest.fixture(scope="module")
def demo(chdb_path: Path) -> Iterator[Store]:
    settings = StoreSettings(
        clickhouse_url=f"chdb://{chdb_path}", clickhouse_database=f"askai_{uuid.uuid4().hex[:8]}"
    )
    store = open_store(settings, create_database=True)
    asyncio.run(demo_db.load(store, settings, scale=0.05, seed=11))
    yield store
    store.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    store.close()


def test_the_oracle_answers_every_question(demo: Store) -> None:
    questions = run.load_questions()
    with run.oracle(questions) as settings:
        outcomes = run.evaluate(demo, settings, questions)
    assert [o.id for o in outcomes if not o.passed] == []
    result = run.summary(outcomes, "oracle")
    assert result["execution_accuracy"] == 1.0
    # the small load still gives most questions rows to compare
    assert sum(o.gold_rows > 0 for o in outcomes) >= 40
