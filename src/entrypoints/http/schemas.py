"""The wire shapes of the contract (msgspec), and the functions that map domain objects onto them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from domain.attachment import Attachment
from domain.conversation import Conversation, Message

MEDIA_FILES_PATH = "/api/v1/media/files"
MEDIA_PATH = "/api/v1/media"
MemberIds = Annotated[list[str], msgspec.Meta(max_length=1000)]


class ConversationIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["direct", "group"]
    member_ids: MemberIds
    title: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class MembersIn(msgspec.Struct, forbid_unknown_fields=True):
    member_ids: Annotated[list[str], msgspec.Meta(min_length=1, max_length=1000)]


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    content: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    attachment_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class ConversationOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title: str | None
    member_ids: list[str]
    created_at: datetime


class AttachmentOut(msgspec.Struct, omit_defaults=True):
    """The contract's Attachment. The fields after `created_at` are left out where unknown."""

    id: uuid.UUID
    message_id: uuid.UUID | None  # null: a draft, until a message names it in attachment_ids
    uploader_id: str
    filename: str
    original_name: str
    content_type: str
    kind: str
    size: int
    sha256: str
    url: str
    created_at: datetime
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    thumbnail_url: str | None = None
    blurhash: str | None = None


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: str
    content: str
    has_media: bool
    attachments: list[AttachmentOut]
    created_at: datetime


def conversation_out(conversation: Conversation) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        kind=conversation.kind.value,
        title=conversation.title,
        member_ids=sorted(conversation.member_ids),
        created_at=conversation.created_at,
    )


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.id,
        message_id=attachment.message_id,
        uploader_id=attachment.uploader_id,
        filename=attachment.filename,
        original_name=attachment.original_name,
        content_type=attachment.content_type,
        kind=attachment.kind.value,
        size=attachment.size,
        sha256=attachment.sha256,
        url=f"{MEDIA_FILES_PATH}/{attachment.filename}",
        created_at=attachment.created_at,
        width=attachment.width,
        height=attachment.height,
        duration_s=attachment.duration_s,
        thumbnail_url=(
            f"{MEDIA_PATH}/{attachment.id}/thumbnail" if attachment.thumbnail_sha256 is not None else None
        ),
        blurhash=attachment.blurhash,
    )


def message_out(message: Message, attachments: Sequence[Attachment] = ()) -> MessageOut:
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        sender_id=message.sender_id,
        content=message.content,
        has_media=message.has_media,
        attachments=[attachment_out(a) for a in attachments],
        created_at=message.created_at,
    )
