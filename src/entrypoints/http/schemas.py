"""The wire shapes of the contract (msgspec), and the functions that map domain objects onto them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from domain.attachment import Attachment, Rendition
from domain.conversation import MAX_GROUP_MEMBERS, Conversation, Message
from domain.errors import InvalidInput
from entrypoints.http.signed_urls import UNSIGNED, MediaLinks

MEDIA_FILES_PATH = "/api/v1/media/files"
MEDIA_PATH = "/api/v1/media"
MemberIds = Annotated[list[str], msgspec.Meta(max_length=MAX_GROUP_MEMBERS)]


class ConversationIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["direct", "group"]
    member_ids: MemberIds
    title: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class MembersIn(msgspec.Struct, forbid_unknown_fields=True):
    member_ids: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_GROUP_MEMBERS)]


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    content: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    attachment_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    attachment_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=100)]


class ConversationOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title: str | None
    member_ids: list[str]
    created_at: datetime


class AttachmentOut(msgspec.Struct, omit_defaults=True):
    """The contract's Attachment. The fields after `created_at` are left out where unknown; in an
    HTTP answer `url`, `thumbnail_url` and `preview_url` are signed for the caller until `urls_expire_at`."""

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
    preview_url: str | None = None  # a display-size WebP of a large image; `url` stays the download
    blurhash: str | None = None
    scrubbed: bool | None = None  # videos: false when kept as they came, their metadata in them
    urls_expire_at: datetime | None = None
    # false only on a file stored while the malware scanner did not answer (SCAN_FAIL=open), until
    # the sweep has scanned it; left out otherwise.
    scanned: bool = True


class SignedUrlsOut(msgspec.Struct, omit_defaults=True):
    """Fresh signed URLs of one attachment (`POST /api/v1/media/sign`)."""

    id: uuid.UUID
    url: str
    urls_expire_at: datetime | None
    thumbnail_url: str | None = None
    preview_url: str | None = None


class QuotaOut(msgspec.Struct):
    limit: int | None  # bytes; None: no quota
    used: int
    remaining: int | None


class ResumableOut(msgspec.Struct):
    path: str
    max_size: int
    ttl_s: int


class PolicyOut(msgspec.Struct):
    """What `GET /api/v1/media/policy` answers: the checks an upload will meet, for the caller."""

    max_upload_size: int
    extensions: dict[str, list[str]]  # by kind: image, document, video
    max_attachments_per_message: int
    max_image_pixels: int
    resumable: ResumableOut
    quota: QuotaOut
    upload_rate_per_minute: int  # 0: no limit


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


def file_path(attachment: Attachment) -> str:
    return f"{MEDIA_FILES_PATH}/{attachment.filename}"


def rendition_url(attachment: Attachment, rendition: Rendition, links: MediaLinks) -> str | None:
    """The rendition's route, linked for the viewer; None when it was never made."""
    if attachment.rendition_sha256(rendition) is None:
        return None
    return links.link(f"{MEDIA_PATH}/{attachment.id}/{rendition.route}")


def attachment_out(attachment: Attachment, links: MediaLinks = UNSIGNED) -> AttachmentOut:
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
        url=links.link(file_path(attachment)),
        created_at=attachment.created_at,
        width=attachment.width,
        height=attachment.height,
        duration_s=attachment.duration_s,
        thumbnail_url=rendition_url(attachment, Rendition.THUMBNAIL, links),
        preview_url=rendition_url(attachment, Rendition.PREVIEW, links),
        blurhash=attachment.blurhash,
        scrubbed=attachment.scrubbed,
        urls_expire_at=links.expires_at,
        scanned=not attachment.unscanned,
    )


def signed_urls_out(attachment: Attachment, links: MediaLinks) -> SignedUrlsOut:
    return SignedUrlsOut(
        id=attachment.id,
        url=links.link(file_path(attachment)),
        urls_expire_at=links.expires_at,
        thumbnail_url=rendition_url(attachment, Rendition.THUMBNAIL, links),
        preview_url=rendition_url(attachment, Rendition.PREVIEW, links),
    )


def message_out(
    message: Message, attachments: Sequence[Attachment] = (), links: MediaLinks = UNSIGNED
) -> MessageOut:
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        sender_id=message.sender_id,
        content=message.content,
        has_media=message.has_media,
        attachments=[attachment_out(a, links) for a in attachments],
        created_at=message.created_at,
    )


def message_id_of(raw: str) -> uuid.UUID:
    """A form field's or tus metadata's message_id (spaces around it allowed); 422 when not a UUID."""
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise InvalidInput("message_id must be a UUID.") from None
