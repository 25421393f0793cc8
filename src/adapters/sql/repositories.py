"""The repositories over SQLAlchemy, each with the two small functions that map rows to and from the
domain. advanced-alchemy's repository does the plain work (get, add, count, delete); the queries the
chat needs beyond that are written here once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from advanced_alchemy.exceptions import IntegrityError
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import Row, Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql import statements
from adapters.sql.models import AttachmentRow, ConversationRow, MemberRow, MessageRow
from application.ports.repositories import AttachmentSeen
from domain.attachment import Attachment, MediaKind, thumbnail_owner
from domain.conversation import Conversation, ConversationKind, Message
from domain.errors import NotFound


def _direct_pair(conversation: Conversation) -> str | None:
    if conversation.kind is not ConversationKind.DIRECT:
        return None
    return "\n".join(sorted(conversation.member_ids))


def conversation_row(conversation: Conversation) -> ConversationRow:
    return ConversationRow(
        id=conversation.id,
        kind=conversation.kind.value,
        title=conversation.title,
        direct_pair=_direct_pair(conversation),
        last_seq=0,
        created_at=conversation.created_at,
        last_activity_at=conversation.last_activity_at,
        members=[MemberRow(user_id=user_id) for user_id in sorted(conversation.member_ids)],
    )


def conversation_of(row: ConversationRow | Row[Any], member_ids: frozenset[str]) -> Conversation:
    return Conversation(
        id=row.id,
        kind=ConversationKind(row.kind),
        title=row.title,
        member_ids=member_ids,
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
    )


def message_row(message: Message) -> MessageRow:
    return MessageRow(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        content=message.content,
        has_media=message.has_media,
        created_at=message.created_at,
    )


def message_of(row: MessageRow | Row[Any]) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender_id=row.sender_id,
        content=row.content,
        has_media=row.has_media,
        created_at=row.created_at,
    )


def attachment_row(attachment: Attachment, position: int) -> AttachmentRow:
    return AttachmentRow(
        id=attachment.id,
        message_id=attachment.message_id,
        position=position,
        uploader_id=attachment.uploader_id,
        filename=attachment.filename,
        original_name=attachment.original_name,
        content_type=attachment.content_type,
        kind=attachment.kind.value,
        size=attachment.size,
        sha256=attachment.sha256,
        created_at=attachment.created_at,
        width=attachment.width,
        height=attachment.height,
        duration_s=attachment.duration_s,
        blurhash=attachment.blurhash,
        thumbnail_sha256=attachment.thumbnail_sha256,
    )


def attachment_of(row: AttachmentRow | Row[Any]) -> Attachment:
    return Attachment(
        id=row.id,
        message_id=row.message_id,
        uploader_id=row.uploader_id,
        filename=row.filename,
        original_name=row.original_name,
        content_type=row.content_type,
        kind=MediaKind(row.kind),
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        width=row.width,
        height=row.height,
        duration_s=row.duration_s,
        blurhash=row.blurhash,
        thumbnail_sha256=row.thumbnail_sha256,
    )


def seen_of(row: Row[Any] | None) -> AttachmentSeen | None:
    if row is None:
        return None
    return AttachmentSeen(attachment=attachment_of(row), viewer_is_member=bool(row.viewer_is_member))


class _Conversations(SQLAlchemyAsyncRepository[ConversationRow]):
    model_type = ConversationRow


class _Messages(SQLAlchemyAsyncRepository[MessageRow]):
    model_type = MessageRow


class _Attachments(SQLAlchemyAsyncRepository[AttachmentRow]):
    model_type = AttachmentRow


AnyRows = TypeVar("AnyRows", _Conversations, _Messages, _Attachments)


def _rows_of(kind: type[AnyRows], session: AsyncSession) -> AnyRows:
    """advanced-alchemy's repository of `kind` as every repository here uses it. Each is built on
    first use, not with every unit of work (building the three took ~60 us of each request's unit
    of work, most of which never uses them). None reads a row back after adding it (auto_refresh):
    nothing here uses what it would read, and on SQLite that SELECT was ~1.5 ms of an upload's or a
    message's transaction."""
    return kind(session=session, auto_expunge=False, auto_refresh=False)


class SqlConversationRepository:
    """Members are read as plain user ids in one query, never as ORM objects: a group of 1,000 is
    loaded in a few milliseconds, and a membership check reads one index entry."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @cached_property
    def _rows(self) -> _Conversations:
        return _rows_of(_Conversations, self._session)

    async def add(self, conversation: Conversation) -> None:
        await self._rows.add(conversation_row(conversation))

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        row = (await self._session.execute(statements.CONVERSATION, {"id": conversation_id})).first()
        if row is None:
            return None
        members = await self._session.scalars(statements.MEMBER_IDS, {"conversation_id": conversation_id})
        return conversation_of(row, frozenset(members))

    async def is_member(self, conversation_id: uuid.UUID, user_id: str) -> bool:
        found = await self._session.scalar(
            statements.IS_MEMBER, {"conversation_id": conversation_id, "user_id": user_id}
        )
        return found is not None

    async def find_direct(self, member_a: str, member_b: str) -> Conversation | None:
        row = await self._session.scalar(
            select(ConversationRow).where(
                ConversationRow.direct_pair == "\n".join(sorted((member_a, member_b)))
            )
        )
        return None if row is None else conversation_of(row, frozenset((member_a, member_b)))

    async def list_for_member(self, user_id: str) -> Sequence[Conversation]:
        mine = select(MemberRow.conversation_id).where(MemberRow.user_id == user_id)
        rows = list(
            await self._session.scalars(
                select(ConversationRow)
                .where(ConversationRow.id.in_(mine))
                .order_by(ConversationRow.last_activity_at.desc(), ConversationRow.id.desc())
            )
        )
        members: dict[uuid.UUID, set[str]] = {row.id: set() for row in rows}
        if rows:
            pairs = await self._session.execute(
                select(MemberRow.conversation_id, MemberRow.user_id).where(
                    MemberRow.conversation_id.in_(mine)
                )
            )
            for conversation_id, member_id in pairs:
                members[conversation_id].add(member_id)
        return [conversation_of(row, frozenset(members[row.id])) for row in rows]

    async def add_members(self, conversation_id: uuid.UUID, user_ids: frozenset[str]) -> None:
        if not user_ids:
            return
        present = set(
            await self._session.scalars(
                select(MemberRow.user_id).where(
                    MemberRow.conversation_id == conversation_id, MemberRow.user_id.in_(user_ids)
                )
            )
        )
        added = [{"conversation_id": conversation_id, "user_id": u} for u in sorted(user_ids - present)]
        if added:  # one INSERT of many rows; the ids come from the model's Python-side default
            await self._session.execute(insert(MemberRow), added)

    async def remove_member(self, conversation_id: uuid.UUID, user_id: str) -> None:
        # One DELETE, whatever loads the members; what it returns tells whether they were one.
        removed = await self._session.scalar(
            delete(MemberRow)
            .where(MemberRow.conversation_id == conversation_id, MemberRow.user_id == user_id)
            .returning(MemberRow.id)
            .execution_options(synchronize_session=False)
        )
        if removed is None:
            raise NotFound("No such member in this conversation.")

    async def advance(self, conversation_id: uuid.UUID, at: datetime) -> int:
        # One UPDATE ... RETURNING: the row lock makes concurrent changes take turns, so no two get
        # the same number (PostgreSQL row lock; SQLite has one writer at a time).
        seq = await self._session.scalar(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(last_seq=ConversationRow.last_seq + 1, last_activity_at=at)
            .returning(ConversationRow.last_seq)
            .execution_options(synchronize_session=False)
        )
        if seq is None:
            raise NotFound("No such conversation.")
        return int(seq)


class SqlMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @cached_property
    def _rows(self) -> _Messages:
        return _rows_of(_Messages, self._session)

    async def add(self, message: Message) -> None:
        await self._rows.add(message_row(message))

    async def get(self, message_id: uuid.UUID) -> Message | None:
        row = (await self._session.execute(statements.MESSAGE, {"id": message_id})).first()
        return None if row is None else message_of(row)

    async def list_page(
        self, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        query = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
        if before is not None:
            anchor = await self._session.scalar(
                select(MessageRow.seq).where(
                    MessageRow.id == before, MessageRow.conversation_id == conversation_id
                )
            )
            if anchor is None:
                raise NotFound("No such message in this conversation.")
            query = query.where(MessageRow.seq < anchor)
        rows = await self._session.scalars(query.order_by(MessageRow.seq.desc()).limit(limit))
        return [message_of(row) for row in rows]

    async def set_has_media(self, message_id: uuid.UUID, has_media: bool) -> None:
        await self._session.execute(
            update(MessageRow)
            .where(MessageRow.id == message_id)
            .values(has_media=has_media)
            .execution_options(synchronize_session="fetch")
        )

    async def delete(self, message_id: uuid.UUID) -> None:
        # The attachment rows go by the foreign key's ON DELETE CASCADE, in the same statement.
        await self._rows.delete_where(MessageRow.id == message_id, sanity_check=False)


class SqlAttachmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @cached_property
    def _rows(self) -> _Attachments:
        return _rows_of(_Attachments, self._session)

    async def add(self, attachment: Attachment) -> None:
        last = (
            None
            if attachment.message_id is None
            else await self._session.scalar(
                select(func.max(AttachmentRow.position)).where(
                    AttachmentRow.message_id == attachment.message_id
                )
            )
        )
        try:
            await self._rows.add(attachment_row(attachment, 0 if last is None else last + 1))
        except IntegrityError:  # the message went meanwhile (the names are fresh UUIDs)
            raise NotFound("No such message.") from None

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        return await self._seen(statements.SEEN_BY_ID, {"id": attachment_id, "viewer": viewer})

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        return await self._seen(statements.SEEN_BY_FILENAME, {"filename": filename, "viewer": viewer})

    async def _seen(self, query: Select[Any], parameters: dict[str, object]) -> AttachmentSeen | None:
        return seen_of((await self._session.execute(query, parameters)).first())

    async def list_for_messages(self, message_ids: Sequence[uuid.UUID]) -> Sequence[Attachment]:
        if not message_ids:
            return []
        rows = await self._session.execute(statements.ATTACHMENTS_OF, {"message_ids": list(message_ids)})
        return [attachment_of(row) for row in rows]

    async def count_for_message(self, message_id: uuid.UUID) -> int:
        return await self._rows.count(AttachmentRow.message_id == message_id)

    async def delete(self, attachment_id: uuid.UUID) -> None:
        await self._rows.delete_where(AttachmentRow.id == attachment_id, sanity_check=False)

    async def attach(self, attachment_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None:
        for position, attachment_id in enumerate(attachment_ids):
            await self._session.execute(
                update(AttachmentRow)
                .where(AttachmentRow.id == attachment_id, AttachmentRow.message_id.is_(None))
                .values(message_id=message_id, position=position)
                .execution_options(synchronize_session=False)
            )

    async def bytes_stored_by(self, uploader_id: str) -> int:
        total = await self._session.scalar(
            select(func.coalesce(func.sum(AttachmentRow.size), 0)).where(
                AttachmentRow.uploader_id == uploader_id
            )
        )
        return int(total or 0)

    async def drafts_created_before(self, cutoff: datetime, limit: int) -> Sequence[Attachment]:
        rows = await self._session.scalars(
            select(AttachmentRow)
            .where(AttachmentRow.message_id.is_(None), AttachmentRow.created_at < cutoff)
            .order_by(AttachmentRow.created_at)
            .limit(limit)
        )
        return [attachment_of(row) for row in rows]

    async def stored_filenames(self, filenames: Sequence[str]) -> frozenset[str]:
        if not filenames:
            return frozenset()
        owners = {owner: name for name in filenames if (owner := thumbnail_owner(name)) is not None}
        names = set(
            await self._session.scalars(
                select(AttachmentRow.filename).where(AttachmentRow.filename.in_(filenames))
            )
        )
        if owners:
            with_thumbnails = await self._session.scalars(
                select(AttachmentRow.id).where(
                    AttachmentRow.id.in_(owners), AttachmentRow.thumbnail_sha256.is_not(None)
                )
            )
            names.update(owners[owner] for owner in with_thumbnails)
        return frozenset(names)
