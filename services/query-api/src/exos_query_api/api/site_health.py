"""Site health routes (`/api/site-health/*`): error rate, Web Vitals, long tasks, console
errors, HTTP monitoring. Thin: the SQL and shaping live in `exos_query_api.queries`."""

# No `from __future__ import annotations`: the routes' `Runner` alias is local to the
# factory, and FastAPI must see it evaluated.
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from exos_common.service.readstore import StoreProvider
from exos_query_api.api.deps import Limit, runner_dependency
from exos_query_api.filters import FiltersParam
from exos_query_api.queries import console, health, network
from exos_query_api.runner import QueryRunner
from exos_query_api.timerange import TimeRange, TimeRangeParam

HOURLY_LONGEST = timedelta(days=31)


def bucket_for(window: TimeRange, asked: health.Bucket | None) -> health.Bucket:
    span = window.end - window.start
    if asked is None:
        return health.Bucket.hour if span <= timedelta(days=3) else health.Bucket.day
    if asked is health.Bucket.hour and span > HOURLY_LONGEST:
        raise HTTPException(422, f"bucket=hour needs a range of at most {HOURLY_LONGEST.days} days")
    return asked


def build_router(provider: StoreProvider) -> APIRouter:
    router = APIRouter(prefix="/api/site-health", tags=["site health"])
    Runner = Annotated[QueryRunner, Depends(runner_dependency(provider))]

    @router.get(
        "/errors",
        response_model=health.ErrorRate,
        summary="Error rate over time",
        description="Per hour or day: spans, error spans, sessions and the share of sessions "
        "with an error (default bucket: hour up to 3 days, else day).",
    )
    def errors(
        window: TimeRangeParam,
        chosen: FiltersParam,
        runner: Runner,
        bucket: Annotated[health.Bucket | None, Query(description="`hour` or `day`.")] = None,
    ) -> health.ErrorRate:
        return health.error_rate(runner, window, chosen, bucket_for(window, bucket))

    @router.get(
        "/web-vitals",
        response_model=health.WebVitals,
        summary="Web Vitals p75 by page with good / needs-improvement / poor bands",
        description="LCP, INP, FID, CLS, TTFB, FCP from the SDK's `webvitals` spans (one "
        "metric per span), p75 per page, Google's thresholds, samples of poor values.",
    )
    def web_vitals(
        window: TimeRangeParam, chosen: FiltersParam, runner: Runner, limit: Limit = 200
    ) -> health.WebVitals:
        return health.web_vitals(runner, window, chosen, limit)

    @router.get(
        "/long-tasks",
        response_model=health.LongTasks,
        summary="Long tasks by page",
        description="Main-thread tasks over 50 ms: count, total and blocking time, p75, the "
        "longest one (session and moment).",
    )
    def long_tasks(
        window: TimeRangeParam, chosen: FiltersParam, runner: Runner, limit: Limit = 50
    ) -> health.LongTasks:
        return health.long_tasks(runner, window, chosen, limit)

    @router.get(
        "/console-errors",
        response_model=console.ConsoleErrors,
        summary="Console errors grouped by fingerprint",
        description="Error-level console output and uncaught errors, grouped by message "
        "pattern: occurrences, sessions affected, first/last seen, sample sessions at their "
        "first occurrence.",
    )
    def console_errors(
        window: TimeRangeParam, chosen: FiltersParam, runner: Runner, limit: Limit = 50
    ) -> console.ConsoleErrors:
        return console.console_errors(runner, window, chosen, limit)

    @router.get(
        "/http",
        response_model=network.HttpHealth,
        summary="HTTP monitoring: status classes and latency by endpoint",
        description="API calls by method and endpoint (ids as `:id`): status classes, error "
        "rate, p50/p95/p99 latency, samples of failed calls.",
    )
    def http(
        window: TimeRangeParam, chosen: FiltersParam, runner: Runner, limit: Limit = 50
    ) -> network.HttpHealth:
        return network.http_health(runner, window, chosen, limit)

    return router
