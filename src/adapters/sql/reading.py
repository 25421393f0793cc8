"""`Reading` over SQL: the repositories' reads (one code for both), each statement through the
reader chosen for the database (adapters/sql/reader.py), in no transaction."""

from __future__ import annotations

from adapters.sql.attachments import SqlAttachmentReads
from adapters.sql.conversations import SqlConversationReads
from adapters.sql.messages import SqlMessageReads
from adapters.sql.reader import ClosingReader


class SqlReading:
    """Holds nothing between statements: one is built for the service, entered by every read."""

    def __init__(self, reader: ClosingReader) -> None:
        self._reader = reader
        self.conversations = SqlConversationReads(reader)
        self.messages = SqlMessageReads(reader)
        self.attachments = SqlAttachmentReads(reader)

    def __call__(self) -> SqlReading:  # the `ReadingFactory`: no state per read, so itself
        return self

    async def __aenter__(self) -> SqlReading:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def close(self) -> None:
        await self._reader.close()
