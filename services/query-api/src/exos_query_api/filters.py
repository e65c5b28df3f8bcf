"""The filters analytics and site health endpoints take besides the time range: service,
page and the visitor's browser, OS, device type, country and city (the `visitor.*`
attributes enrich sets). Every value is bound as a `{name:String}` parameter; the SQL
text only ever varies between the fixed clauses below, chosen by which filters are set.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel

from exos_query_api.timerange import TimeRange, TimeRangeParam

_TEXT = {"max_length": 300}

# Column of `span_facts` (0015) / `session_summary` (0016) for each session-level filter.
SESSION_COLUMNS = {
    "service": "ServiceName",
    "browser": "Browser",
    "os": "Os",
    "device": "DeviceType",
    "country": "Country",
    "city": "City",
}

# Sessions that viewed the page, for the tables that have no page column of their own.
_SESSIONS_ON_PAGE = (
    "SessionId IN (SELECT SessionId FROM span_facts WHERE IsPageView = 1 "
    "AND Page = {page:String} AND Timestamp >= {start:DateTime64(9)} "
    "AND Timestamp < {end:DateTime64(9)})"
)


class Filters(BaseModel):
    service: str | None = None
    page: str | None = None
    browser: str | None = None
    os: str | None = None
    device: str | None = None
    country: str | None = None
    city: str | None = None

    def parameters(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump().items() if value is not None}

    def span_clauses(self) -> list[str]:
        """Conditions on `span_facts` rows (the page filter keeps spans on that page)."""
        clauses = [
            f"{SESSION_COLUMNS[name]} = {{{name}:String}}"
            for name in SESSION_COLUMNS
            if getattr(self, name) is not None
        ]
        if self.page is not None:
            clauses.append("Page = {page:String}")
        return clauses

    def session_clauses(self) -> list[str]:
        """Conditions on `session_summary` rows (or any table with a SessionId): the page
        filter keeps sessions that viewed the page in the time range."""
        clauses = [
            f"{SESSION_COLUMNS[name]} = {{{name}:String}}"
            for name in SESSION_COLUMNS
            if getattr(self, name) is not None
        ]
        if self.page is not None:
            clauses.append(_SESSIONS_ON_PAGE)
        return clauses

    def log_clauses(self) -> list[str]:
        """For `otel_logs` rows (no visitor columns; `Page` and `SessionId` computed by
        the query): the visitor filters through `session_summary`."""
        clauses = [
            "ServiceName = {service:String}" if self.service is not None else "",
            "Page = {page:String}" if self.page is not None else "",
        ]
        visitor = [
            f"{SESSION_COLUMNS[name]} = {{{name}:String}}"
            for name in SESSION_COLUMNS
            if name != "service" and getattr(self, name) is not None
        ]
        if visitor:
            clauses.append(
                "SessionId IN (SELECT SessionId FROM session_summary WHERE "
                + " AND ".join(visitor)
                + ")"
            )
        return [c for c in clauses if c]


def filters(
    service: Annotated[str | None, Query(description="`service.name` of the app.", **_TEXT)] = None,
    page: Annotated[
        str | None,
        Query(description="Page path, ids as `:id` (e.g. `/orders/:id`).", **_TEXT),
    ] = None,
    browser: Annotated[str | None, Query(description="`visitor.browser`.", **_TEXT)] = None,
    os: Annotated[str | None, Query(description="`visitor.os`.", **_TEXT)] = None,
    device: Annotated[str | None, Query(description="`visitor.device_type`.", **_TEXT)] = None,
    country: Annotated[str | None, Query(description="`visitor.country`.", **_TEXT)] = None,
    city: Annotated[str | None, Query(description="`visitor.city`.", **_TEXT)] = None,
) -> Filters:
    return Filters(
        service=service,
        page=page,
        browser=browser,
        os=os,
        device=device,
        country=country,
        city=city,
    )


FiltersParam = Annotated[Filters, Depends(filters)]


def where(*clauses: str) -> str:
    """`WHERE a AND b ...` of fixed clauses (never user text)."""
    return "WHERE " + " AND ".join(clauses) if clauses else ""


def bound(window: TimeRange, chosen: Filters, **extra: Any) -> dict[str, Any]:
    """The parameters of a query: time range, filters, and the endpoint's own."""
    return {**window.parameters(), **chosen.parameters(), **extra}


SPAN_TIME = "Timestamp >= {start:DateTime64(9)} AND Timestamp < {end:DateTime64(9)}"

__all__ = ["SPAN_TIME", "Filters", "FiltersParam", "TimeRangeParam", "bound", "filters", "where"]
