"""`POST /api/insights/ask`: a question (and the conversation it follows up) in, the
SQL, its plain-language explanation, the rows, a chart suggestion and a narrative out.
`GET /api/insights/conversations/{id}`: the turns so far (any replica can answer)."""

# No `from __future__ import annotations`: the routes' Depends(provider.get) is local
# to the router factory, and FastAPI must evaluate it.

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from exos_common.service.errors import error_response
from exos_common.service.readstore import StoreProvider
from exos_common.store import Store, StoreError
from exos_insights.api import errors
from exos_insights.ask import AskAI, AskAnswer, AskRefused, Attempt, UnknownConversation
from exos_insights.llm import NOT_CONFIGURED, ModelError
from exos_insights.memory import ConversationStore, Turn
from exos_insights.metrics import InsightsMetrics
from exos_insights.reader import ReaderProvider


class AskRequest(BaseModel):
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        max_length=4000
    )
    conversation_id: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="Set to follow up on an earlier answer (its `conversation_id`).",
    )


class Conversation(BaseModel):
    conversation_id: str
    turns: list[Turn]


def build_router(
    provider: StoreProvider,
    reader: ReaderProvider,
    ask_ai: AskAI | None,
    metrics: InsightsMetrics,
) -> APIRouter:
    router = APIRouter(prefix="/api/insights", tags=["insights"])

    @router.post(
        "/ask",
        response_model=AskAnswer,
        responses={403: {}, 404: {}, 502: {}, 503: {}},
        summary="Ask a question in plain English (text-to-SQL)",
    )
    async def ask(
        body: AskRequest,
        store: Annotated[Store, Depends(provider.get)],
        statements: Annotated[Store, Depends(reader.get)],
    ) -> AskAnswer | JSONResponse:
        if ask_ai is None:
            metrics.asks.labels("not_configured").inc()
            return error_response(503, "model_not_configured", NOT_CONFIGURED)
        try:
            answer = await ask_ai.ask(store, body.question, body.conversation_id, statements)
        except AskRefused as exc:
            _count(metrics, exc.attempts, "refused")
            return error_response(
                403,
                "sql_refused",
                f"refused ({exc.refusal.rule}): {exc.refusal.reason} "
                f"[conversation {exc.conversation_id}; the model's SQL was refused "
                f"{len(exc.attempts)} time(s)]",
            )
        except UnknownConversation:
            return error_response(404, "unknown_conversation", "no such conversation")
        except ModelError as exc:
            metrics.asks.labels("model_failed").inc()
            return error_response(502, "model_failed", str(exc))
        except StoreError as exc:
            return errors.failed(exc)
        _count(metrics, answer.attempts, answer.status)
        return answer

    @router.get(
        "/conversations/{conversation_id}",
        response_model=Conversation,
        responses={404: {}},
        summary="The turns of a conversation",
    )
    async def conversation(
        conversation_id: str, store: Annotated[Store, Depends(provider.get)]
    ) -> Conversation | JSONResponse:
        turns = await asyncio.to_thread(ConversationStore(store).turns, conversation_id, 1000)
        if not turns:
            return error_response(404, "unknown_conversation", "no such conversation")
        return Conversation(conversation_id=conversation_id, turns=turns)

    return router


def _count(metrics: InsightsMetrics, attempts: list[Attempt], status: str) -> None:
    metrics.asks.labels(status).inc()
    for attempt in attempts:
        if attempt.outcome != "no_sql":
            metrics.statement("ask", attempt.outcome, attempt.rule)
