"""The end of an upload: its staged files published under fresh UUID names, their rows committed,
the members told, in the order that leaves no row without its file after a crash at any point."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from application.access import message_in_conversation
from application.events import MediaAttached
from application.ports.unit_of_work import UnitOfWork
from domain.attachment import Attachment, stored_name, thumbnail_name
from domain.conversation import Conversation, Message
from domain.policy import display_name

if TYPE_CHECKING:
    from application.upload_media import StagedUpload, UploadMedia


async def attachable(
    uow: UnitOfWork, message_id: uuid.UUID, uploader_id: str
) -> tuple[Message, Conversation]:
    """The message and its conversation, when the uploader sent it (403 otherwise; 404 when they
    cannot see it)."""
    message, conversation = await message_in_conversation(uow, message_id, uploader_id)
    message.ensure_sender(uploader_id, "attach files to it")
    return message, conversation


async def commit_upload(
    use_case: UploadMedia, uploader_id: str, message: Message | None, files: Sequence[StagedUpload]
) -> list[Attachment]:
    """Publishes the files (and thumbnails), then commits their rows and, for a message, its event;
    then tells the members. A failure before the commit removes every file it published."""
    now = use_case.clock.now()
    attachments = [_attachment(item, uploader_id, message, now) for item in files]
    published: list[str] = []
    try:
        for item, attachment in zip(files, attachments, strict=True):
            await item.staged.publish(attachment.filename)
            published.append(attachment.filename)
            if item.thumbnail is not None:
                await item.thumbnail.publish(thumbnail_name(attachment.id))
                published.append(thumbnail_name(attachment.id))
        async with use_case.uow() as uow:
            # Again in the transaction: other uploads may have landed meanwhile.
            stored = (
                await uow.attachments.bytes_stored_by(uploader_id)
                if use_case.policy.storage_quota is not None
                else 0
            )
            use_case.policy.check_quota(stored, sum(a.size for a in attachments))
            if message is None:
                for attachment in attachments:
                    await uow.attachments.add(attachment)
                await uow.commit()
                return attachments  # drafts: nobody is told until a message names them
            # Checked again inside the transaction: the message may have gone meanwhile.
            current, conversation = await attachable(uow, message.id, uploader_id)
            for attachment in attachments:
                await uow.attachments.add(attachment)
            if not current.has_media:
                await uow.messages.set_has_media(current.id, True)
            seq = await uow.conversations.advance(conversation.id, now)
            logged = await uow.events.append(
                MediaAttached(
                    conversation_id=conversation.id, seq=seq, message_id=current.id, attachments=attachments
                )
            )
            await uow.commit()
    except BaseException:
        with anyio.CancelScope(shield=True):
            for filename in published:
                await use_case.files.delete(filename)
        raise
    await use_case.broadcaster.publish(logged, conversation.member_ids)
    return attachments


def _attachment(item: StagedUpload, uploader_id: str, message: Message | None, now: datetime) -> Attachment:
    attachment_id = uuid.uuid4()
    admission = item.received.admission
    return Attachment(
        id=attachment_id,
        message_id=None if message is None else message.id,
        uploader_id=uploader_id,
        filename=stored_name(attachment_id, admission.extension),
        original_name=display_name(item.received.original_name, admission.extension),
        content_type=admission.content_type,
        kind=admission.kind,
        size=item.size,
        sha256=item.sha256,
        created_at=now,
        width=item.processed.width,
        height=item.processed.height,
        duration_s=item.processed.duration_s,
        blurhash=item.processed.blurhash,
        thumbnail_sha256=item.thumbnail_sha256,
        scrubbed=item.processed.scrubbed,
        unscanned=item.unscanned,
    )
