"""The floor the service's reads are up against: a bare Litestar app on the same server (granian, 1
worker), no middleware, no token, no unit of work, doing the same indexed reads with the database's
own driver (sqlite3 on the loop's thread, asyncpg in a pool) and answering the rows as JSON.

- `GET /conversations/{user}`: the user's conversations, newest activity first, with their members;
- `GET /messages/{conversation_id}`: the newest 50 messages, and the attachments of those with media;
- `GET /media/{message_id}`: a message's attachments.

Run as `FLOOR_DATABASE_URL=<the service's DATABASE_URL> python -m bench.reads_floor PORT [WORKERS]`."""

from __future__ import annotations

import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar, get

from bench.ws_floor import serve_bare

URL = os.environ.get("FLOOR_DATABASE_URL", "")
PAGE = 50
CONVERSATIONS = (
    "SELECT * FROM conversations WHERE id IN (SELECT conversation_id FROM conversation_members"
    " WHERE user_id = {0}) ORDER BY last_activity_at DESC, id DESC"
)
MEMBERS = (
    "SELECT conversation_id, user_id FROM conversation_members WHERE conversation_id IN"
    " (SELECT conversation_id FROM conversation_members WHERE user_id = {0})"
)
MESSAGES = "SELECT * FROM messages WHERE conversation_id = {0} ORDER BY seq DESC LIMIT {1}"
ATTACHMENTS_OF = "SELECT * FROM media_attachments WHERE message_id IN ({0}) ORDER BY position, created_at"
ATTACHMENTS_OF_ONE = "SELECT * FROM media_attachments WHERE message_id = {0} ORDER BY position, created_at"


class Sqlite:
    """One connection, read on the loop's thread (a WAL reader waits for no writer)."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row

    async def rows(self, sql: str, *args: object) -> list[dict[str, Any]]:
        marks = [("?" if not isinstance(a, list) else ",".join("?" * len(a))) for a in args]
        flat = [x for a in args for x in (a if isinstance(a, list) else [a])]
        flat = [x.bytes if isinstance(x, uuid.UUID) else x for x in flat]
        rows = self._db.execute(sql.format(*marks), flat).fetchall()
        return [{k: _plain(r[k]) for k in r.keys()} for r in rows]  # noqa: SIM118 (sqlite3.Row)

    async def close(self) -> None:
        self._db.close()


class Postgres:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def rows(self, sql: str, *args: object) -> list[dict[str, Any]]:
        marks = [
            f"${n}" if not isinstance(a, list) else f"SELECT unnest(${n}::uuid[])"
            for n, a in enumerate(args, 1)
        ]
        async with self._pool.acquire() as connection:
            return [dict(r) for r in await connection.fetch(sql.format(*marks), *args)]

    async def close(self) -> None:
        await self._pool.close()


def _plain(value: object) -> object:
    return str(uuid.UUID(bytes=value)) if isinstance(value, bytes) and len(value) == 16 else value


DB: Sqlite | Postgres


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    global DB
    if URL.startswith("postgresql"):
        DB = Postgres(
            await asyncpg.create_pool(
                URL.replace("postgresql+asyncpg", "postgresql"), min_size=4, max_size=32
            )
        )
    else:
        DB = Sqlite(URL.split(":///", 1)[1])
    try:
        yield
    finally:
        await DB.close()


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/conversations/{user:str}")
async def conversations(user: str) -> list[dict[str, Any]]:
    found = await DB.rows(CONVERSATIONS, user)
    members: dict[object, list[object]] = {c["id"]: [] for c in found}
    for pair in await DB.rows(MEMBERS, user):
        members[pair["conversation_id"]].append(pair["user_id"])
    return [{**c, "member_ids": members[c["id"]]} for c in found]


@get("/messages/{conversation_id:uuid}")
async def messages(conversation_id: uuid.UUID) -> list[dict[str, Any]]:
    page = await DB.rows(MESSAGES, conversation_id, PAGE)
    with_media = [uuid.UUID(str(m["id"])) for m in page if m["has_media"]]
    attachments: Sequence[dict[str, Any]] = await DB.rows(ATTACHMENTS_OF, with_media) if with_media else []
    by_message: dict[str, list[dict[str, Any]]] = {}
    for attachment in attachments:
        by_message.setdefault(str(attachment["message_id"]), []).append(attachment)
    return [{**m, "attachments": by_message.get(str(m["id"]), [])} for m in page]


@get("/media/{message_id:uuid}")
async def media(message_id: uuid.UUID) -> list[dict[str, Any]]:
    return await DB.rows(ATTACHMENTS_OF_ONE, message_id)


app = Litestar([health, conversations, messages, media], lifespan=[lifespan], openapi_config=None)


def main() -> None:
    serve_bare("bench.reads_floor:app", int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)


if __name__ == "__main__":
    main()
