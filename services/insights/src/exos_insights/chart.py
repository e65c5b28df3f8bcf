"""Which chart shows a result: the model's suggestion when it names columns the result
has, otherwise one chosen from the columns' types. Pure."""

from __future__ import annotations

from typing import Any

from exos_insights.llm import ChartSuggestion

_NUMERIC = ("Int", "UInt", "Float", "Decimal")
_TIME = ("Date", "DateTime")


def _base(type_name: str) -> str:
    for wrapper in ("Nullable(", "LowCardinality("):
        while type_name.startswith(wrapper):
            type_name = type_name[len(wrapper) : -1]
    return type_name


def is_numeric(type_name: str) -> bool:
    return _base(type_name).startswith(_NUMERIC)


def is_time(type_name: str) -> bool:
    return _base(type_name).startswith(_TIME)


def choose_chart(
    suggested: ChartSuggestion | None, columns: list[str], types: list[str], rows: list[list[Any]]
) -> ChartSuggestion:
    numeric = [c for c, t in zip(columns, types, strict=True) if is_numeric(t)]
    if suggested is not None and _fits(suggested, columns, numeric, len(rows)):
        return suggested
    if not rows or not numeric:
        return ChartSuggestion(kind="table", x="", y=[])
    if len(rows) == 1 and len(columns) == 1:
        return ChartSuggestion(kind="number", x="", y=numeric[:1])
    labels = [c for c in columns if c not in numeric]
    if labels:
        x = labels[0]
        kind = "line" if is_time(types[columns.index(x)]) else "bar"
        return ChartSuggestion(kind=kind, x=x, y=numeric[:3])
    if len(numeric) >= 2:
        return ChartSuggestion(kind="bar", x=numeric[0], y=numeric[1:4])
    return ChartSuggestion(kind="table", x="", y=[])


def _fits(chart: ChartSuggestion, columns: list[str], numeric: list[str], n_rows: int) -> bool:
    if chart.kind == "table":
        return True
    if n_rows == 0 or not chart.y or any(y not in numeric for y in chart.y):
        return False
    if chart.kind == "number":
        return n_rows == 1
    return chart.x in columns
