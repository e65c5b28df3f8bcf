"""Routes of the process area (to be filled by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

from exos_common.service.readstore import StoreProvider


def build_router(provider: StoreProvider) -> APIRouter:
    return APIRouter()
