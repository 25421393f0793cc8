"""The health routes: liveness (the process answers) and readiness (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from litestar import get
from litestar.handlers import HTTPRouteHandler

from domain.errors import StorageUnavailable
from entrypoints.http.errors import error_response

READY_TIMEOUT = 2.0  # seconds /health/ready waits for the database, the store and Redis, together


def health_routes(checks: Sequence[Callable[[], Awaitable[None]]]) -> list[HTTPRouteHandler]:
    """`/health` and `/health/ready` run every check (each raises StorageUnavailable when its
    dependency is down) within READY_TIMEOUT: 200, or 503 saying which; `/health/live` none."""

    async def ready() -> object:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                for check in checks:
                    await check()
        except StorageUnavailable as exc:
            return error_response(503, str(exc))
        except TimeoutError:
            return error_response(
                503, f"The database, the file store or Redis took over {READY_TIMEOUT:g} s."
            )
        return {"status": "ok"}

    @get("/health", summary="Ready when the database, the file store and Redis answer", tags=["operations"])
    async def health() -> object:
        return await ready()

    @get(
        "/health/ready",
        summary="Ready when the database, the file store and Redis answer",
        tags=["operations"],
    )
    async def health_ready() -> object:
        return await ready()

    @get("/health/live", summary="The process answers (no dependency checked)", tags=["operations"])
    async def health_live() -> object:
        return {"status": "ok"}

    return [health, health_ready, health_live]
