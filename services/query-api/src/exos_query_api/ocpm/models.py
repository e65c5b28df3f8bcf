"""Responses of the object-centric process-mining endpoints (durations in seconds)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from exos_query_api.process.models import CaseMoment, TransitionSample
from exos_query_api.runner import Traced


class Category(BaseModel):
    category: str
    prefix: str
    events: int
    orders: int = Field(description="Orders (objects) with an event of this category.")
    operators: int
    sessions: int
    activities: list[str]


class CategoriesResponse(Traced):
    categories: list[Category] = Field(description="The eight categories, busiest first.")
    uncategorized_events: int
    uncategorized_activities: list[str]


class Interaction(BaseModel):
    category_a: str
    category_b: str
    orders: int = Field(description="Orders with events of both categories.")
    share_pct: float = Field(description="Of the orders with two categories or more.")


class InteractionsResponse(Traced):
    nodes: list[Category]
    edges: list[Interaction]


class Handoff(BaseModel):
    from_category: str
    to_category: str
    handoffs: int
    orders: int
    avg_s: float
    p50_s: float
    p95_s: float
    samples: list[TransitionSample] = Field(description="The slowest handoffs.")


class HandoffsResponse(Traced):
    handoffs: list[Handoff]


class Lifecycle(BaseModel):
    name: str = Field(description="A category, or `Order` for the whole order.")
    objects: int
    avg_s: float
    p50_s: float
    p95_s: float
    max_s: float


class LifecycleResponse(Traced):
    lifecycles: list[Lifecycle]


class VendorWaitSample(CaseMoment):
    wait_s: float


class VendorContention(BaseModel):
    vendor_id: str
    vendor_name: str
    orders: int
    rework_rate_pct: float = Field(description="Orders sent back for revision at least once.")
    waits: int = Field(description="Orders that waited on the vendor (wait_from seen).")
    open_waits: int = Field(description="Still waiting at the end of the range.")
    avg_wait_s: float | None
    p50_wait_s: float | None
    p95_wait_s: float | None = Field(description="Of finished waits.")
    peak_concurrent: int = Field(description="Most orders waiting on the vendor at once.")
    peak_at: datetime | None
    samples: list[VendorWaitSample] = Field(description="Longest waits, at their start.")


class VendorsResponse(Traced):
    wait_from: str
    wait_to: str
    vendors: list[VendorContention]
