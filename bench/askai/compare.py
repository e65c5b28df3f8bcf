"""Execution accuracy: do the model's rows answer the question as the gold rows do?

Values are normalised (numbers as floats rounded to 2 decimals, so 2 and 2.0 and a
rounded average agree; everything else as text), then every gold column must match a
distinct column of the answer with the same values (extra columns are fine, column order
is free), and the rows of those columns are compared as a multiset, or in order when
the question asks for a ranking. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import permutations
from typing import Any

Rows = Sequence[Sequence[Any]]


def normalise(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return round(float(value), 2)
    if isinstance(value, str):
        try:
            return round(float(value), 2)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return tuple(normalise(v) for v in value)
    return str(value)


def _column(rows: Rows, i: int) -> list[Any]:
    return [normalise(row[i]) for row in rows]


def matches(gold: Rows, answer: Rows, *, ordered: bool = False) -> bool:
    if len(gold) != len(answer):
        return False
    if not gold:
        return True
    width_gold, width_answer = len(gold[0]), len(answer[0]) if answer else 0
    if width_answer < width_gold:
        return False
    gold_columns = [_column(gold, i) for i in range(width_gold)]
    answer_columns = [_column(answer, j) for j in range(width_answer)]
    # Candidate answer columns for each gold column: same values, regardless of order.
    candidates = [
        [j for j, col in enumerate(answer_columns) if Counter(col) == Counter(g)]
        for g in gold_columns
    ]
    if any(not c for c in candidates):
        return False
    expected = [tuple(col[r] for col in gold_columns) for r in range(len(gold))]
    for mapping in _mappings(candidates, width_answer):
        got = [tuple(answer_columns[j][r] for j in mapping) for r in range(len(answer))]
        if (got == expected) if ordered else (Counter(got) == Counter(expected)):
            return True
    return False


def _mappings(candidates: list[list[int]], width: int) -> list[tuple[int, ...]]:
    """Assignments of distinct answer columns to the gold columns (few columns, so the
    product is small; capped to stay cheap on wide results)."""
    out: list[tuple[int, ...]] = []
    for choice in permutations(range(width), len(candidates)):
        if all(j in c for j, c in zip(choice, candidates, strict=True)):
            out.append(choice)
            if len(out) >= 200:
                break
    return out
