"""The small functions that map rows to and from the domain. Each `..._of` reads an ORM object or a
Core statement's `Row` alike: both name their values by the columns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from adapters.sql.models import AttachmentRow, ConversationRow, MemberRow, MessageRow
from application.ports.repositories import AttachmentSeen
from domain.attachment import Attachment, MediaKind
from domain.conversation import Conversation, ConversationKind, Message


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
        scrubbed=attachment.scrubbed,
        unscanned=attachment.unscanned,
        content_name=attachment.stored_as,
        preview_sha256=attachment.preview_sha256,
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
        scrubbed=row.scrubbed,
        unscanned=bool(row.unscanned),
        content_name=row.content_name,
        preview_sha256=row.preview_sha256,
    )


def seen_of(row: Row[Any] | None) -> AttachmentSeen | None:
    if row is None:
        return None
    return AttachmentSeen(attachment=attachment_of(row), viewer_is_member=bool(row.viewer_is_member))
