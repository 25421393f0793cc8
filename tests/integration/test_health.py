"""`/health/live` says the process answers; `/health/ready` (and `/health`, as before) that the
database, the file store and Redis (when configured) answer, within a deadline. No token."""

from __future__ import annotations

from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient

from domain.errors import StorageUnavailable
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.integration.http_fixtures import Api
from tests.integration.server_process import free_port


async def test_live_and_ready_answer_without_a_token(api: Api) -> None:
    for path in ("/health/live", "/health/ready", "/health"):
        answer = await api.client.get(path)
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"}), path


async def test_ready_with_a_real_redis(settings: Settings, redis_url: str) -> None:
    app = create_app(replace(settings, redis_url=redis_url))
    async with AsyncTestClient(app, timeout=30) as client:
        assert (await client.get("/health/ready")).status_code == 200


async def test_the_readiness_probe_finds_a_redis_that_does_not_answer(api: Api) -> None:
    # A service cannot start without its Redis (the event stream subscribes at start-up), so the
    # probe's own check is what meets a Redis gone later; the process stays live meanwhile.
    from adapters import broadcast

    gone = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(StorageUnavailable, match="Redis does not answer"):
        await broadcast.check_redis(gone, 1.0)
    assert (await api.client.get("/health/live")).status_code == 200


async def test_a_database_gone_is_not_ready_but_still_live(api: Api) -> None:
    assert (await api.client.get("/health/ready")).status_code == 200
    for database in api.upload_dir.parent.glob("*.db"):
        database.unlink()
    api.upload_dir.parent.joinpath("uploads").rename(api.upload_dir.parent / "moved")
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 503
    assert (await api.client.get("/health/live")).status_code == 200
