"""`Annotated` dependencies of the analytics, site health and stats routers."""

# No `from __future__ import annotations`: FastAPI must see the nested dependency's
# annotations evaluated.
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query

from exos_common.service.readstore import StoreProvider
from exos_common.store import Store
from exos_query_api.runner import QueryRunner

LIMIT_MAX = 1000
Limit = Annotated[int, Query(ge=1, le=LIMIT_MAX, description=f"Rows returned (1-{LIMIT_MAX}).")]


def runner_dependency(provider: StoreProvider) -> Callable[[Store], QueryRunner]:
    """A fresh QueryRunner per request on the provider's store."""

    def runner(store: Annotated[Store, Depends(provider.get)]) -> QueryRunner:
        return QueryRunner(store)

    return runner
