"""The per-user upload rate, with Litestar's rate limiter: counted in its `rate_limit` store, in
memory for one process or in Redis (with REDIS_URL) so that every instance shares the count."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

UPLOAD_PATHS = frozenset({"/api/v1/media/upload", "/api/v1/media/uploads", "/api/v1/media/uploads/"})
NOT_UPLOADS = r"^/api/(?!v1/media/(upload|uploads/?)$)"  # any API path but those


async def _is_upload(request: Request[Any, Any, Any]) -> bool:
    """A plain upload, or the creation of a resumable one (its PATCHes are not counted)."""
    return request.method == "POST" and request.url.path in UPLOAD_PATHS


def _uploader(request: Request[Any, Any, Any]) -> str:
    return f"user:{request.user.id}"  # set by the bearer middleware, which runs first


def upload_rate_limit(per_minute: int) -> list[DefineMiddleware]:
    if per_minute <= 0:
        return []
    config = RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=_uploader,
        check_throttle_handler=_is_upload,
        # Every other path passes by on a regular expression: the middleware itself builds a
        # Request and awaits the handler above, ~4% of a listing's time (bench/reads.py, py-spy).
        exclude=[NOT_UPLOADS],
    )
    return [config.middleware]


def rate_limit_store(redis_url: str | None) -> Store:
    if redis_url is None:
        return MemoryStore()
    return RedisStore.with_client(url=redis_url, namespace="CHAT_MEDIA_RATE")
