"""In-memory adapters with real state: what unit tests run on, and a reference for the others."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from adapters.clock import SystemClock
from adapters.files import write_pipeline
from application.events import Event, Logged
from application.ports.clock import Clock
from application.ports.files import OpenFile, StagedFile
from application.ports.repositories import AttachmentSeen
from domain.attachment import Attachment
from domain.content_checks import BodyCheck
from domain.conversation import Conversation, ConversationKind, Message
from domain.errors import Conflict, FileTooLarge, NotFound
from domain.resumable import UploadSession


@dataclass
class MemoryDatabase:
    """The committed state; a unit of work edits a copy and swaps it in on commit."""

    conversations: dict[uuid.UUID, Conversation] = field(default_factory=dict)
    seqs: dict[uuid.UUID, int] = field(default_factory=dict)
    messages: dict[uuid.UUID, Message] = field(default_factory=dict)
    attachments: dict[uuid.UUID, Attachment] = field(default_factory=dict)
    events: list[Logged] = field(default_factory=list)
    uploads: dict[uuid.UUID, UploadSession] = field(default_factory=dict)


class InMemoryConversationRepository:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def add(self, conversation: Conversation) -> None:
        self._db.conversations[conversation.id] = conversation
        self._db.seqs[conversation.id] = 0

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        return self._db.conversations.get(conversation_id)

    async def is_member(self, conversation_id: uuid.UUID, user_id: str) -> bool:
        conversation = self._db.conversations.get(conversation_id)
        return conversation is not None and conversation.has_member(user_id)

    async def find_direct(self, member_a: str, member_b: str) -> Conversation | None:
        pair = frozenset({member_a, member_b})
        for conversation in self._db.conversations.values():
            if conversation.kind is ConversationKind.DIRECT and conversation.member_ids == pair:
                return conversation
        return None

    async def list_for_member(self, user_id: str) -> Sequence[Conversation]:
        mine = [c for c in self._db.conversations.values() if user_id in c.member_ids]
        return sorted(mine, key=lambda c: (c.last_activity_at, c.id), reverse=True)

    async def add_members(self, conversation_id: uuid.UUID, user_ids: frozenset[str]) -> None:
        conversation = self._db.conversations[conversation_id]
        members = conversation.member_ids | user_ids
        self._db.conversations[conversation_id] = replace(conversation, member_ids=members)

    async def remove_member(self, conversation_id: uuid.UUID, user_id: str) -> None:
        conversation = self._db.conversations.get(conversation_id)
        if conversation is None or user_id not in conversation.member_ids:
            raise NotFound("No such member in this conversation.")
        members = conversation.member_ids - {user_id}
        self._db.conversations[conversation_id] = replace(conversation, member_ids=members)

    async def advance(self, conversation_id: uuid.UUID, at: datetime) -> int:
        conversation = self._db.conversations[conversation_id]
        self._db.conversations[conversation_id] = replace(conversation, last_activity_at=at)
        self._db.seqs[conversation_id] += 1
        return self._db.seqs[conversation_id]


class InMemoryMessageRepository:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def add(self, message: Message) -> None:
        self._db.messages[message.id] = message

    async def get(self, message_id: uuid.UUID) -> Message | None:
        return self._db.messages.get(message_id)

    async def list_page(
        self, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        history = [m for m in self._db.messages.values() if m.conversation_id == conversation_id]
        if before is not None:
            anchor = self._db.messages.get(before)
            if anchor is None or anchor.conversation_id != conversation_id:
                raise NotFound("No such message in this conversation.")
            history = [m for m in history if m.seq < anchor.seq]
        return sorted(history, key=lambda m: m.seq, reverse=True)[:limit]

    async def set_has_media(self, message_id: uuid.UUID, has_media: bool) -> None:
        self._db.messages[message_id] = replace(self._db.messages[message_id], has_media=has_media)

    async def delete(self, message_id: uuid.UUID) -> None:
        self._db.messages.pop(message_id, None)
        for attachment in [a for a in self._db.attachments.values() if a.message_id == message_id]:
            del self._db.attachments[attachment.id]


class InMemoryAttachmentRepository:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def add(self, attachment: Attachment) -> None:
        if attachment.message_id is not None and attachment.message_id not in self._db.messages:
            raise NotFound("No such message.")
        self._db.attachments[attachment.id] = attachment

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        return self._seen(viewer, self._db.attachments.get(attachment_id))

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        return self._seen(
            viewer, next((a for a in self._db.attachments.values() if a.filename == filename), None)
        )

    def _seen(self, viewer: str, found: Attachment | None) -> AttachmentSeen | None:
        if found is None:
            return None
        message = None if found.message_id is None else self._db.messages.get(found.message_id)
        conversation = None if message is None else self._db.conversations.get(message.conversation_id)
        member = conversation is not None and conversation.has_member(viewer)
        return AttachmentSeen(attachment=found, viewer_is_member=member)

    async def list_for_messages(self, message_ids: Sequence[uuid.UUID]) -> Sequence[Attachment]:
        wanted = set(message_ids)
        return [a for a in self._db.attachments.values() if a.message_id in wanted]  # dicts keep order

    async def count_for_message(self, message_id: uuid.UUID) -> int:
        return sum(1 for a in self._db.attachments.values() if a.message_id == message_id)

    async def delete(self, attachment_id: uuid.UUID) -> None:
        self._db.attachments.pop(attachment_id, None)

    async def attach(self, attachment_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None:
        for attachment_id in attachment_ids:  # re-inserted so that the dict's order is upload order
            attachment = self._db.attachments.pop(attachment_id)
            self._db.attachments[attachment_id] = replace(attachment, message_id=message_id)

    async def bytes_stored_by(self, uploader_id: str) -> int:
        return sum(a.size for a in self._db.attachments.values() if a.uploader_id == uploader_id)

    async def drafts_created_before(self, cutoff: datetime, limit: int) -> Sequence[Attachment]:
        old = [a for a in self._db.attachments.values() if a.message_id is None and a.created_at < cutoff]
        return old[:limit]

    async def stored_filenames(self, filenames: Sequence[str]) -> frozenset[str]:
        wanted = set(filenames)
        return frozenset(n for a in self._db.attachments.values() for n in a.stored_names if n in wanted)


class InMemoryEventLog:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def append(self, event: Event) -> Logged:
        logged = Logged(cursor=len(self._db.events) + 1, event=event)
        self._db.events.append(logged)
        return logged

    async def since(self, user_id: str, cursor: int, limit: int) -> Sequence[Logged]:
        mine = {c.id for c in self._db.conversations.values() if user_id in c.member_ids}
        return [e for e in self._db.events[cursor:] if e.event.conversation_id in mine][:limit]

    async def between(self, after: int, upto: int) -> Sequence[tuple[Logged, frozenset[str]]]:
        conversations = self._db.conversations
        return [
            (e, frozenset(conversations[e.event.conversation_id].member_ids))
            for e in self._db.events[after:upto]
            if e.event.conversation_id in conversations
        ]

    async def last_cursor(self) -> int:
        return len(self._db.events)


class InMemoryUploadSessionRepository:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def add(self, session: UploadSession) -> None:
        self._db.uploads[session.id] = session

    async def get(self, session_id: uuid.UUID) -> UploadSession | None:
        return self._db.uploads.get(session_id)

    async def finish(self, session_id: uuid.UUID, attachment_id: uuid.UUID) -> None:
        self._db.uploads[session_id] = replace(self._db.uploads[session_id], attachment_id=attachment_id)

    async def delete(self, session_id: uuid.UUID) -> None:
        self._db.uploads.pop(session_id, None)

    async def expired(self, now: datetime, limit: int) -> Sequence[UploadSession]:
        return [s for s in self._db.uploads.values() if s.expires_at <= now][:limit]


class InMemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase) -> None:
        self._committed = db
        self._working = copy.copy(db)

    async def __aenter__(self) -> InMemoryUnitOfWork:
        self._working = MemoryDatabase(
            conversations=dict(self._committed.conversations),
            seqs=dict(self._committed.seqs),
            messages=dict(self._committed.messages),
            attachments=dict(self._committed.attachments),
            events=list(self._committed.events),
            uploads=dict(self._committed.uploads),
        )
        self.conversations = InMemoryConversationRepository(self._working)
        self.messages = InMemoryMessageRepository(self._working)
        self.attachments = InMemoryAttachmentRepository(self._working)
        self.events = InMemoryEventLog(self._working)
        self.uploads = InMemoryUploadSessionRepository(self._working)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None  # what was not committed is simply dropped

    async def commit(self) -> None:
        self._committed.__dict__.update(self._working.__dict__)
        await self.__aenter__()


class InMemoryUnitOfWorkFactory:
    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)


class _MemoryStaged:
    def __init__(self, store: InMemoryFileStore) -> None:
        self._store = store
        self._buffer = bytearray()
        self.published = False

    @property
    def size(self) -> int:
        return len(self._buffer)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        for offset in range(start, min(end, len(self._buffer)), chunk_size):
            yield bytes(self._buffer[offset : min(offset + chunk_size, end)])

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        return await write_pipeline.fill(self.write, chunks, check)

    async def write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self._buffer += chunk

    async def publish(self, filename: str) -> None:
        if filename in self._store.files:
            raise Conflict(f"A file named {filename} is already stored.")
        self._store.files[filename] = (bytes(self._buffer), self._store.clock.now())
        self.published = True

    async def discard(self) -> None:
        self._buffer.clear()


@dataclass(frozen=True)
class _MemoryOpenFile:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        for offset in range(start, end, chunk_size):
            yield self.data[offset : min(offset + chunk_size, end)]


class InMemoryFileStore:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()  # when each file was published, for the sweeper
        self.files: dict[str, tuple[bytes, datetime]] = {}
        self.staged_open = 0  # staged files not yet published or discarded

    @asynccontextmanager
    async def stage(self) -> AsyncIterator[StagedFile]:
        staged = _MemoryStaged(self)
        self.staged_open += 1
        try:
            yield staged
        finally:
            self.staged_open -= 1
            await staged.discard()

    @asynccontextmanager
    async def open(self, filename: str) -> AsyncIterator[OpenFile]:
        if filename not in self.files:
            raise NotFound("No such file.")
        yield _MemoryOpenFile(self.files[filename][0])

    async def delete(self, filename: str) -> None:
        self.files.pop(filename, None)

    async def check(self) -> None:
        return None

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        return [name for name, (_, written) in self.files.items() if written < cutoff][:limit]


class InMemoryPartialStore:
    """Resumable uploads' bytes in memory, each with when it was last written (by `clock`)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.parts: dict[uuid.UUID, tuple[bytearray, datetime]] = {}
        self._clock = clock or SystemClock()
        self._busy: set[uuid.UUID] = set()

    async def append(
        self, upload_id: uuid.UUID, offset: int, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        if upload_id in self._busy:
            raise Conflict("Another request is appending to this upload.")
        data, _ = self.parts.get(upload_id, (bytearray(), self._clock.now()))
        if len(data) != offset:
            raise Conflict(f"The upload is at offset {len(data)}, not {offset}.")
        self._busy.add(upload_id)
        try:
            received = bytearray()
            try:
                async for chunk in chunks:
                    received += chunk
                    if offset + len(received) > limit:
                        raise FileTooLarge(f"The upload would pass its announced length of {limit:,} bytes.")
            except FileTooLarge:
                raise
            except BaseException:
                self._keep(upload_id, data + received)  # what came before the error is kept
                raise
            self._keep(upload_id, data + received)
            return offset + len(received)
        finally:
            self._busy.discard(upload_id)

    def _keep(self, upload_id: uuid.UUID, data: bytearray) -> None:
        self.parts[upload_id] = (data, self._clock.now())

    async def length(self, upload_id: uuid.UUID) -> int:
        return len(self.parts.get(upload_id, (b"",))[0])

    async def read(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        data = bytes(self.parts.get(upload_id, (b"",))[0])
        for at in range(0, len(data), 1 << 16):
            yield data[at : at + (1 << 16)]

    async def delete(self, upload_id: uuid.UUID) -> None:
        self.parts.pop(upload_id, None)

    async def written_before(self, cutoff: datetime, limit: int) -> Sequence[uuid.UUID]:
        return [i for i, (_, written) in self.parts.items() if written < cutoff][:limit]


class RecordingBroadcaster:
    """Keeps every published event in order, with whom it was for: for tests, and for a single
    process without sockets."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.deliveries: list[tuple[Logged, frozenset[str]]] = []

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None:
        self.events.append(logged.event)
        self.deliveries.append((logged, audience))
