"""The eight object categories of domain events, by SpanName prefix (docs/05-process-mining.md),
shared by the operator leaderboard and OCPM."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "email.": "Communication",
    "page.": "Portal",
    "action.": "System Action",
    "order.": "Order Lifecycle",
    "review.": "Quality Control",
    "report.": "Document",
    "inspection.": "Field Work",
    "appraisal.": "Valuation",
}
# Work a workflow rule or a bot could take over: status updates and e-mails.
ROUTINE_CATEGORIES = frozenset({"System Action", "Communication"})


def category_of(activity: str) -> str:
    """The category of an activity, '' when no prefix matches (e.g. revision.requested)."""
    for prefix, category in CATEGORIES.items():
        if activity.startswith(prefix):
            return category
    return ""


def category_sql(column: str) -> str:
    """The same mapping as a ClickHouse expression over `column` (constants only)."""
    branches = ", ".join(
        f"startsWith({column}, '{prefix}'), '{category}'" for prefix, category in CATEGORIES.items()
    )
    return f"multiIf({branches}, '')"
