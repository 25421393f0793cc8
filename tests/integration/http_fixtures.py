"""The real app over SQLite (or PostgreSQL) and a temporary uploads folder, and a client per user."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import RecordingBroadcaster
from adapters.tokens import mint_token
from domain.policy import MediaPolicy
from entrypoints.app import create_app
from entrypoints.settings import Settings

SECRET = "test-secret-" + "x" * 40


def bearer(user: str, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, user)}"}


@dataclass
class Api:
    """A thin client of the contract, so tests read as what a chat app does."""

    client: AsyncTestClient  # type: ignore[type-arg]
    upload_dir: Path

    async def conversation(self, user: str, members: list[str], kind: str = "group") -> dict[str, Any]:
        r = await self.client.post(
            "/api/v1/conversations",
            json={"kind": kind, "title": "t", "member_ids": members},
            headers=bearer(user),
        )
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    async def message(self, user: str, conversation_id: str, content: str = "hello") -> dict[str, Any]:
        r = await self.client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": content},
            headers=bearer(user),
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def upload(
        self, user: str, message_id: str | None, *files: tuple[str, bytes], **extra: str
    ) -> httpx.Response:
        data = {"message_id": message_id, **extra} if message_id is not None else extra
        parts = [("file", (name, io.BytesIO(body), "application/octet-stream")) for name, body in files]
        return await self.client.post("/api/v1/media/upload", data=data, files=parts, headers=bearer(user))

    def stored_files(self) -> set[str]:
        """What the store holds: published files, and any temporary file left in staging."""
        return {str(p.relative_to(self.upload_dir)) for p in self.upload_dir.rglob("*") if p.is_file()}


@pytest.fixture
def broadcaster() -> RecordingBroadcaster:
    return RecordingBroadcaster()


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return Settings(
        database_url=sqlite_url,
        upload_dir=tmp_path / "uploads",
        jwt_secret=SECRET,
        policy=MediaPolicy(),
    )


@pytest.fixture
def small_cap(settings: Settings) -> Settings:
    """The same service with a 64 KiB upload cap, so limits are tested at the byte quickly."""
    return replace(settings, policy=MediaPolicy.from_lists(max_upload_size=65_536))


@pytest.fixture
async def api(settings: Settings, broadcaster: RecordingBroadcaster) -> AsyncIterator[Api]:
    app = create_app(settings, broadcaster=broadcaster)
    async with AsyncTestClient(app, timeout=30) as client:
        yield Api(client=client, upload_dir=settings.upload_dir)


def plain(url: str) -> str:
    """A media URL without its signature: the path the bearer header opens."""
    return url.partition("?")[0]


def unsigned(attachment: dict[str, Any]) -> dict[str, Any]:
    """An attachment as every member sees it: its URLs without the viewer's signature (WebSocket
    frames carry them so), and no `urls_expire_at`."""
    seen = {k: v for k, v in attachment.items() if k != "urls_expire_at"}
    for key in ("url", "thumbnail_url"):
        if key in seen:
            seen[key] = plain(seen[key])
    return seen


def new_id() -> str:
    return str(uuid.uuid4())
