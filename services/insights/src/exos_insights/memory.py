"""Ask AI's conversation memory, in ClickHouse (`insights_conversations`), not in the
process: every replica reads the same turns, so a follow-up works wherever it lands."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from exos_common.store import Store

TABLE = "insights_conversations"
_COLUMNS = (
    "conversation_id",
    "turn_id",
    "question",
    "sql",
    "explanation",
    "narrative",
    "status",
    "error",
    "columns",
    "row_count",
    "sample_rows",
)
# Rows of a result kept for the next turn's context (the model sees what it answered).
SAMPLE_ROWS = 5


@dataclass(slots=True)
class Turn:
    question: str
    sql: str = ""
    explanation: str = ""
    narrative: str = ""
    status: str = "answered"  # answered | could_not | refused
    error: str = ""
    columns: list[str] = field(default_factory=list)
    row_count: int = 0
    sample_rows: list[list[Any]] = field(default_factory=list)


def new_conversation_id() -> str:
    return uuid.uuid4().hex


class ConversationStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def turns(self, conversation_id: str, last: int) -> list[Turn]:
        """The conversation's last `last` turns, oldest first."""
        if last <= 0:
            return []
        rows = self.store.query(
            f"SELECT question, sql, explanation, narrative, status, error, columns, row_count, "
            f"sample_rows FROM (SELECT * FROM {TABLE} WHERE conversation_id = {{id:String}} "
            f"ORDER BY created_at DESC, turn_id DESC LIMIT {{n:UInt32}}) "
            f"ORDER BY created_at, turn_id",
            {"id": conversation_id, "n": last},
        )
        return [
            Turn(
                question=r["question"],
                sql=r["sql"],
                explanation=r["explanation"],
                narrative=r["narrative"],
                status=r["status"],
                error=r["error"],
                columns=list(r["columns"]),
                row_count=int(r["row_count"]),
                sample_rows=orjson.loads(r["sample_rows"] or "[]"),
            )
            for r in rows
        ]

    def exists(self, conversation_id: str) -> bool:
        rows = self.store.query_rows(
            f"SELECT count() FROM {TABLE} WHERE conversation_id = {{id:String}}",
            {"id": conversation_id},
        )
        return bool(rows[0][0])

    def append(self, conversation_id: str, turn: Turn) -> None:
        self.store.insert(
            TABLE,
            [
                [
                    conversation_id,
                    uuid.uuid4().hex,
                    turn.question,
                    turn.sql,
                    turn.explanation,
                    turn.narrative,
                    turn.status,
                    turn.error,
                    turn.columns,
                    turn.row_count,
                    orjson.dumps(turn.sample_rows[:SAMPLE_ROWS]).decode(),
                ]
            ],
            _COLUMNS,
        )
