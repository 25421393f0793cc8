"""The in-memory repositories: conversations, messages, attachments, contents and upload sessions,
each over a `MemoryDatabase`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from adapters.memory.database import MemoryDatabase
from application.ports.repositories import AttachmentSeen, MessageMediaSeen, StoredContent
from domain.attachment import Attachment
from domain.conversation import Conversation, ConversationKind, Message
from domain.errors import NotFound
from domain.resumable import UploadSession


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

    async def hold(self, message_id: uuid.UUID) -> bool:
        return message_id in self._db.messages  # one unit of work at a time: nothing to lock

    async def delete(self, message_id: uuid.UUID) -> None:
        # As the SQL cascade does: the rows alone (`delete_for_message` drops their references).
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

    async def seen_of_message(self, viewer: str, message_id: uuid.UUID) -> MessageMediaSeen | None:
        message = self._db.messages.get(message_id)
        if message is None:
            return None
        conversation = self._db.conversations.get(message.conversation_id)
        member = conversation is not None and conversation.has_member(viewer)
        return MessageMediaSeen(await self.list_for_messages([message_id]), member)

    async def count_for_message(self, message_id: uuid.UUID) -> int:
        return sum(1 for a in self._db.attachments.values() if a.message_id == message_id)

    async def delete(self, attachment_id: uuid.UUID) -> Sequence[str]:
        attachment = self._db.attachments.pop(attachment_id, None)
        return [] if attachment is None else self._release([attachment])

    async def delete_for_message(self, message_id: uuid.UUID) -> Sequence[str]:
        mine = [a for a in self._db.attachments.values() if a.message_id == message_id]
        for attachment in mine:
            del self._db.attachments[attachment.id]
        return self._release(mine)

    def _release(self, deleted: Sequence[Attachment]) -> list[str]:
        """Drops the deleted rows' references; the files nobody names any more."""
        gone = [name for a in deleted for name in a.rendition_filenames]
        contents = self._db.contents
        for attachment in deleted:
            content = contents.get(attachment.sha256)
            if content is None or content.name != attachment.stored_as:
                continue
            if content.refs > 1:
                contents[content.sha256] = replace(content, refs=content.refs - 1)
            else:
                del contents[content.sha256]
                gone.append(content.name)
        return gone

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
        renditions = {name for a in self._db.attachments.values() for name in a.rendition_filenames}
        return frozenset(n for n in wanted if n in renditions) | frozenset(
            c.name for c in self._db.contents.values() if c.name in wanted
        )

    async def unscanned(self, limit: int, *, after: uuid.UUID | None = None) -> Sequence[Attachment]:
        found = sorted((a for a in self._db.attachments.values() if a.unscanned), key=lambda a: a.id)
        return [a for a in found if after is None or a.id > after][:limit]

    async def mark_scanned(self, attachment_id: uuid.UUID) -> None:
        if (attachment := self._db.attachments.get(attachment_id)) is not None:
            self._db.attachments[attachment_id] = replace(attachment, unscanned=False)


class InMemoryContentRepository:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def get(self, sha256: str) -> StoredContent | None:
        return self._db.contents.get(sha256)

    async def refer(self, sha256: str, size: int, name: str | None) -> str | None:
        content = self._db.contents.get(sha256)
        if content is not None:
            self._db.contents[sha256] = replace(content, refs=content.refs + 1)
            return content.name
        if name is None:
            return None
        self._db.contents[sha256] = StoredContent(sha256=sha256, name=name, size=size, refs=1)
        return name


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
