"""One Ask AI turn: ground, ask the model for SQL, guard and run it (one repair round
if it fails), narrate the result, remember the turn.

Store work runs in threads (clickhouse-connect is synchronous); model calls are async.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from exos_common.store import Store, StoreError, StoreUnavailable
from exos_insights import prompt
from exos_insights.chart import choose_chart
from exos_insights.grounding import GroundingCache, render
from exos_insights.guard import InvalidSql, Refused, Result, SqlGuard
from exos_insights.llm import ChartSuggestion, Model, ModelError, SqlAnswer
from exos_insights.memory import ConversationStore, Turn, new_conversation_id
from exos_insights.settings import InsightsSettings

Outcome = Literal["ran", "refused", "invalid", "failed", "no_sql"]


class Attempt(BaseModel):
    sql: str = Field(description="The SQL the model wrote.")
    outcome: Outcome
    error: str = Field("", description="Why it did not run (guard rule or ClickHouse error).")
    rule: str = Field("", description="The guard rule that refused it, if any.")


class AskAnswer(BaseModel):
    conversation_id: str
    status: Literal["answered", "could_not"]
    question: str
    sql: str = Field(description="The statement that ran (ClickHouse's canonical text).")
    explanation: str = Field(description="What the SQL computes, in plain language.")
    title: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool
    chart: ChartSuggestion
    narrative: str
    tables: list[str] = Field(description="Tables the statement reads.")
    attempts: list[Attempt] = Field(description="Each SQL tried: the first and any repair.")
    repaired: bool
    model: str
    elapsed_ms: float


class AskRefused(Exception):
    """The model's SQL was refused by the guard, also after the repair round."""

    def __init__(self, conversation_id: str, refusal: Refused, attempts: list[Attempt]) -> None:
        super().__init__(refusal.reason)
        self.conversation_id = conversation_id
        self.refusal = refusal
        self.attempts = attempts


class UnknownConversation(LookupError):
    pass


@dataclass(slots=True)
class _Try:
    answer: SqlAnswer
    attempt: Attempt
    result: Result | None = None
    tables: list[str] = field(default_factory=list)
    refusal: Refused | None = None


class AskAI:
    def __init__(self, settings: InsightsSettings, model: Model, grounding: GroundingCache) -> None:
        self.settings = settings
        self.model = model
        self.grounding = grounding

    async def ask(
        self,
        store: Store,
        question: str,
        conversation_id: str | None,
        statements: Store | None = None,
    ) -> AskAnswer:
        """`statements`: where the model's SQL runs (the read-only user's store), if not
        on `store`."""
        began = time.perf_counter()
        memory = ConversationStore(store)
        if conversation_id is not None:
            if not await asyncio.to_thread(memory.exists, conversation_id):
                raise UnknownConversation(conversation_id)
            history = await asyncio.to_thread(
                memory.turns, conversation_id, self.settings.insights_history_turns
            )
        else:
            conversation_id, history = new_conversation_id(), []
        grounding = await asyncio.to_thread(self.grounding.get, store)
        system = prompt.system_prompt(render(grounding), self.settings.insights_max_result_rows)
        messages = prompt.answer_messages(system, history, question)
        guard = SqlGuard(
            statements or store,
            self.settings.guard_policy(store.database),
            self.settings.guard_limits(),
        )

        tried = [await self._try(guard, messages)]
        if tried[0].result is None and tried[0].attempt.outcome != "no_sql":
            failed = tried[0]
            repair = prompt.repair_messages(
                messages, failed.answer.model_dump(), failed.attempt.error
            )
            tried.append(await self._try(guard, repair))
        last = tried[-1]
        attempts = [t.attempt for t in tried]

        if last.refusal is not None:
            turn = Turn(question, sql=last.answer.sql, status="refused", error=last.refusal.reason)
            await asyncio.to_thread(memory.append, conversation_id, turn)
            raise AskRefused(conversation_id, last.refusal, attempts)
        if last.result is None:
            return await self._could_not(memory, conversation_id, question, last, attempts, began)

        result = last.result
        try:
            narrative = await self.model.narrative(
                prompt.narrative_messages(
                    question,
                    result.sql,
                    result.columns,
                    result.rows[: self.settings.insights_narrative_rows],
                    len(result.rows),
                )
            )
        except ModelError as exc:
            # The rows answer the question; a missing summary should not hide them.
            narrative = f"(no narrative: {exc})"
        chart = choose_chart(
            last.answer.normalised_chart(), result.columns, result.types, result.rows
        )
        turn = Turn(
            question,
            sql=result.sql,
            explanation=last.answer.explanation,
            narrative=narrative,
            columns=result.columns,
            row_count=len(result.rows),
            sample_rows=result.rows,
        )
        await asyncio.to_thread(memory.append, conversation_id, turn)
        return AskAnswer(
            conversation_id=conversation_id,
            status="answered",
            question=question,
            sql=result.sql,
            explanation=last.answer.explanation,
            title=last.answer.title,
            columns=result.columns,
            types=result.types,
            rows=result.rows,
            truncated=result.truncated,
            chart=chart,
            narrative=narrative,
            tables=last.tables,
            attempts=attempts,
            repaired=len(tried) > 1,
            model=self.model.name,
            elapsed_ms=round((time.perf_counter() - began) * 1000, 1),
        )

    async def _try(self, guard: SqlGuard, messages: list[dict[str, str]]) -> _Try:
        answer = await self.model.sql_answer(messages)
        answer.sql = strip_fences(answer.sql)
        if not answer.sql.strip():
            return _Try(answer, Attempt(sql="", outcome="no_sql", error=answer.explanation))
        return await asyncio.to_thread(_run, guard, answer)

    async def _could_not(
        self,
        memory: ConversationStore,
        conversation_id: str,
        question: str,
        last: _Try,
        attempts: list[Attempt],
        began: float,
    ) -> AskAnswer:
        if last.attempt.outcome == "no_sql":
            narrative = f"I could not answer this from the data: {last.answer.explanation}"
        else:
            narrative = (
                "I could not answer this: the SQL I wrote failed, and so did my one "
                f"repair. The last error was: {last.attempt.error}"
            )
        turn = Turn(
            question,
            sql=last.answer.sql,
            explanation=last.answer.explanation,
            narrative=narrative,
            status="could_not",
            error=last.attempt.error,
        )
        await asyncio.to_thread(memory.append, conversation_id, turn)
        return AskAnswer(
            conversation_id=conversation_id,
            status="could_not",
            question=question,
            sql=last.answer.sql,
            explanation=last.answer.explanation,
            title=last.answer.title,
            columns=[],
            types=[],
            rows=[],
            truncated=False,
            chart=ChartSuggestion(kind="table", x="", y=[]),
            narrative=narrative,
            tables=[],
            attempts=attempts,
            repaired=len(attempts) > 1,
            model=self.model.name,
            elapsed_ms=round((time.perf_counter() - began) * 1000, 1),
        )


def _run(guard: SqlGuard, answer: SqlAnswer) -> _Try:
    """Guard, resolve and run the model's SQL; every failure becomes the attempt's error
    (what the repair round shows the model). ClickHouse being down is not the SQL's
    fault: it propagates."""
    try:
        checked = guard.check(answer.sql)
        guard.resolve(checked)
        result = guard.run(checked)
    except Refused as exc:
        attempt = Attempt(sql=answer.sql, outcome="refused", error=exc.reason, rule=exc.rule)
        return _Try(answer, attempt, refusal=exc)
    except InvalidSql as exc:
        return _Try(answer, Attempt(sql=answer.sql, outcome="invalid", error=exc.message))
    except StoreUnavailable:
        raise
    except StoreError as exc:
        return _Try(answer, Attempt(sql=answer.sql, outcome="failed", error=exc.message))
    return _Try(
        answer, Attempt(sql=answer.sql, outcome="ran"), result=result, tables=checked.tables
    )


def strip_fences(sql: str) -> str:
    """Models sometimes wrap the SQL in a Markdown fence even inside a JSON field."""
    text = sql.strip()
    if text.startswith("```"):
        lines = text.split("\n")
        body = lines[1:-1] if lines[-1].strip().startswith("```") else lines[1:]
        return "\n".join(body).strip()
    return text
