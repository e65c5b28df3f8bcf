"""The guard of every statement Ask AI or the SQL console runs (see `engine`, `rules`)."""

from exos_insights.guard.engine import Checked, InvalidSql, Limits, Result, SqlGuard
from exos_insights.guard.rules import Policy, Refused

__all__ = ["Checked", "InvalidSql", "Limits", "Policy", "Refused", "Result", "SqlGuard"]
