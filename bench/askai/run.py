"""Ask AI execution accuracy on the demo data: each question of `questions.yaml` goes
to `POST /api/insights/ask` (the configured model, through the real service: prompt,
guard, repair round), its rows are compared with the gold SQL's rows on the same data
(`compare.matches`), and the share that match is the execution accuracy.

    # against OpenAI (or any OpenAI-compatible server: EXOS_OPENAI_BASE_URL)
    EXOS_OPENAI_API_KEY=sk-... EXOS_OPENAI_MODEL=gpt-4.1 uv run python bench/askai/run.py

    --data DIR            chDB folder with the demo (loaded there first if missing:
                          scale 1, seed 7, fixed anchor; ~3 min on 2 cores)
    --clickhouse-url URL  use a running ClickHouse instead, e.g. `exos up --demo`'s
                          http://127.0.0.1:8123 (the demo must be loaded)
    --only ID,ID          a subset;  --report FILE  the per-question results as JSON
    --oracle              answer with the gold SQL through a local fake model: checks the
                          runner and the gold SQL (must give 100%), needs no model

Gold rows are computed at run time on the same database, so any demo load works.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare import matches  # noqa: E402

from exos_common.settings import StoreSettings  # noqa: E402
from exos_common.store import Store, open_store  # noqa: E402
from exos_common.testing.fake_llm import FakeLLM, last_user_message  # noqa: E402
from exos_insights.app import create_app  # noqa: E402
from exos_insights.settings import InsightsSettings  # noqa: E402


@dataclass
class Question:
    id: str
    question: str
    sql: str
    ordered: bool = False


@dataclass
class Outcome:
    id: str
    passed: bool
    status: str  # answered | could_not | refused | error
    sql: str
    repaired: bool
    gold_rows: int
    answer_rows: int
    seconds: float
    error: str = ""


def load_questions(only: set[str] | None = None) -> list[Question]:
    items = yaml.safe_load((HERE / "questions.yaml").read_text())
    questions = [Question(**item) for item in items]
    return [q for q in questions if not only or q.id in only]


def gold_rows(client: TestClient, question: Question) -> list[list[Any]]:
    response = client.post("/api/insights/sql", json={"sql": question.sql})
    if response.status_code != 200:
        raise RuntimeError(f"gold SQL of {question.id} failed: {response.text}")
    rows: list[list[Any]] = response.json()["rows"]
    return rows


def ask(client: TestClient, question: Question, gold: list[list[Any]]) -> Outcome:
    began = time.perf_counter()
    response = client.post("/api/insights/ask", json={"question": question.question})
    seconds = round(time.perf_counter() - began, 2)
    body = response.json()
    if response.status_code != 200:
        status = "refused" if response.status_code == 403 else "error"
        message = body.get("error", {}).get("message", response.text)
        return Outcome(question.id, False, status, "", False, len(gold), 0, seconds, message)
    rows = body["rows"]
    passed = body["status"] == "answered" and matches(gold, rows, ordered=question.ordered)
    error = body["attempts"][-1]["error"] if body["status"] != "answered" else ""
    return Outcome(
        question.id, passed, body["status"], body["sql"], body["repaired"], len(gold),
        len(rows), seconds, error,
    )  # fmt: skip


@contextmanager
def oracle(questions: list[Question]) -> Iterator[InsightsSettings]:
    """A local fake model that answers each question with its gold SQL."""
    by_question = {q.question: q.sql for q in questions}

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        if request["response_format"]["json_schema"]["name"] == "narrative":
            return {"narrative": "(oracle)"}
        sql = by_question.get(last_user_message(request), "")
        chart = {"kind": "table", "x": "", "y": []}
        return {"sql": sql, "explanation": "gold SQL", "title": "", "chart": chart}

    with FakeLLM(responder=respond) as llm:
        yield InsightsSettings(openai_base_url=llm.base_url, openai_max_retries=0)


def evaluate(store: Store, settings: InsightsSettings, questions: list[Question]) -> list[Outcome]:
    outcomes = []
    with TestClient(create_app(settings, store=store)) as client:
        for question in questions:
            gold = gold_rows(client, question)
            outcome = ask(client, question, gold)
            outcomes.append(outcome)
            mark = "PASS" if outcome.passed else "fail"
            print(f"{mark}  {question.id:<28} {outcome.status:<10} {outcome.seconds:>6.1f} s"
                  f"  {outcome.error[:80]}", flush=True)  # fmt: skip
    return outcomes


def summary(outcomes: list[Outcome], model: str) -> dict[str, Any]:
    total = len(outcomes)
    passed = sum(o.passed for o in outcomes)
    return {
        "model": model,
        "questions": total,
        "execution_accuracy": round(passed / total, 3) if total else 0.0,
        "passed": passed,
        "could_not": sum(o.status == "could_not" for o in outcomes),
        "refused": sum(o.status == "refused" for o in outcomes),
        "errors": sum(o.status == "error" for o in outcomes),
        "repaired": sum(o.repaired for o in outcomes),
        "mean_seconds": round(sum(o.seconds for o in outcomes) / total, 2) if total else 0.0,
    }


def open_database(args: argparse.Namespace) -> Store:
    if args.clickhouse_url:
        return open_store(StoreSettings(clickhouse_url=args.clickhouse_url))
    from demo_db import open_demo

    return open_demo(Path(args.data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=".exos/askai-demo")
    parser.add_argument("--clickhouse-url")
    parser.add_argument("--only")
    parser.add_argument("--report")
    parser.add_argument("--oracle", action="store_true")
    args = parser.parse_args()
    questions = load_questions(set(args.only.split(",")) if args.only else None)
    store = open_database(args)
    try:
        if args.oracle:
            with oracle(questions) as settings:
                outcomes = evaluate(store, settings, questions)
            model = "oracle (gold SQL)"
        else:
            settings = InsightsSettings()
            if not settings.model_configured:
                print("No model: set EXOS_OPENAI_API_KEY (and EXOS_OPENAI_MODEL) or "
                      "EXOS_OPENAI_BASE_URL, or pass --oracle.", file=sys.stderr)  # fmt: skip
                return 2
            outcomes = evaluate(store, settings, questions)
            model = settings.openai_model
    finally:
        store.close()
    result = summary(outcomes, model)
    print(json.dumps(result, indent=2))
    if args.report:
        report = {"summary": result, "questions": [asdict(o) for o in outcomes]}
        Path(args.report).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
