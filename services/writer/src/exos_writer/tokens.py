"""Deduplication tokens and the intent the writer leaves in a partition's commit metadata.

A token names the rows it covers by where they came from: the table, the partition's
incarnation (a deleted-and-recreated topic restarts its offsets, so offsets alone would
take its first batches for retries of the old topic's), topic, partition and offsets.
Sub-batches of a bisection add their own offset range (and row range within one record),
so a writer restarted mid-bisection forms the same sub-batches with the same tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from exos_common.bus import TopicPartition

INTENT_PREFIX = "exos-batch:"
INCARNATION_PREFIX = "exos:"


def new_incarnation() -> str:
    return uuid.uuid4().hex[:16]


def batch_token(table: str, identity: str, tp: TopicPartition, first: int, last: int) -> str:
    where = f"{tp.topic}:{tp.partition}:{first}-{last}"
    return f"{table}:{identity}:{where}" if identity else f"{table}:{where}"


def records_token(batch: str, first: int, last: int) -> str:
    """The records of offsets first..last of a batch, inserted on their own."""
    return f"{batch}/{first}-{last}"


def rows_token(batch: str, offset: int, first_row: int, last_row: int) -> str:
    """Rows first_row..last_row of the record at `offset`, inserted on their own."""
    return f"{batch}/{offset}#{first_row}-{last_row}"


def quarantine_token(batch: str, offset: int, row_index: int) -> str:
    return f"quarantine:{batch}/{offset}#{row_index}"


@dataclass(frozen=True, slots=True)
class PartitionMark:
    """What a partition's commit metadata says: the incarnation its tokens carry ("" for
    a commit made before incarnations existed) and an announced batch range, if any."""

    incarnation: str | None = None
    first: int | None = None
    last: int | None = None


def intent(incarnation: str, first: int, last: int) -> str:
    return f"{INTENT_PREFIX}{incarnation}:{first}-{last}"


def settled(incarnation: str) -> str:
    """Metadata of the commit after a batch: only the incarnation, carried forward."""
    return f"{INCARNATION_PREFIX}{incarnation}"


def parse_mark(metadata: str) -> PartitionMark:
    if metadata.startswith(INCARNATION_PREFIX):
        return PartitionMark(metadata[len(INCARNATION_PREFIX) :] or None)
    if not metadata.startswith(INTENT_PREFIX):
        return PartitionMark()
    body = metadata[len(INTENT_PREFIX) :]
    incarnation, _, offsets = body.rpartition(":")  # "" for the older `first-last` intents
    first, _, last = offsets.partition("-")
    try:
        return PartitionMark(incarnation, int(first), int(last))
    except ValueError:
        return PartitionMark()
