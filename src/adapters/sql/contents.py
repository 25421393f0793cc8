"""The stored contents over SQLAlchemy: one row per sha256, its references counted in the row.

Every change of a count is one UPDATE (or INSERT ... ON CONFLICT) on the row, so concurrent
changes take turns on its lock (PostgreSQL's row lock; SQLite has one writer at a time):
- `refer` without a name increments only a row that is there (`refs > 0`): after the commit of a
  delete that took the last reference the row is gone, and the upload publishes its own copy;
- `refer` with a name inserts, or, when another upload of the same bytes committed first (the
  unique sha256), increments theirs instead and answers its name;
- `release` decrements, and deletes the row that reaches 0 in the same transaction: the caller
  unlinks its file after the commit. Rows are taken in name order, so that two transactions
  changing several never wait for each other in a circle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.models import StoredContentRow
from application.ports.repositories import StoredContent

_contents = StoredContentRow.__table__
_NO_SYNC = {"synchronize_session": False}  # no ORM object of these rows is ever loaded


class SqlContentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, sha256: str) -> StoredContent | None:
        row = (await self._session.execute(select(_contents).where(_contents.c.sha256 == sha256))).first()
        if row is None:
            return None
        return StoredContent(sha256=row.sha256, name=row.name, size=row.size, refs=row.refs)

    async def refer(self, sha256: str, size: int, name: str | None) -> str | None:
        if name is None:
            found = await self._session.scalar(
                update(StoredContentRow)
                .where(_contents.c.sha256 == sha256, _contents.c.refs > 0)
                .values(refs=_contents.c.refs + 1)
                .returning(_contents.c.name)
                .execution_options(**_NO_SYNC)
            )
            return None if found is None else str(found)
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        # The id comes from the column's Python-side default, as for any Core insert.
        insert = dialect.insert(StoredContentRow).values(sha256=sha256, name=name, size=size, refs=1)
        named = await self._session.scalar(
            insert.on_conflict_do_update(
                index_elements=[_contents.c.sha256], set_={"refs": _contents.c.refs + 1}
            ).returning(_contents.c.name)
        )
        return str(named)

    async def release(self, names: Sequence[str]) -> list[str]:
        """Drops one reference per name given (a name twice: two); the names whose last reference
        went, their rows deleted."""
        gone = []
        for name, count in sorted(Counter(names).items()):
            refs = await self._session.scalar(
                update(StoredContentRow)
                .where(_contents.c.name == name)
                .values(refs=_contents.c.refs - count)
                .returning(_contents.c.refs)
                .execution_options(**_NO_SYNC)
            )
            if refs is not None and refs <= 0:
                await self._session.execute(
                    delete(StoredContentRow).where(_contents.c.name == name).execution_options(**_NO_SYNC)
                )
                gone.append(name)
        return gone
