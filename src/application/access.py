"""Who may see what: one place for the membership rule every use case applies."""

from __future__ import annotations

import uuid

from application.ports.repositories import AttachmentSeen
from application.ports.unit_of_work import Reading, ReadingFactory
from domain.attachment import Attachment
from domain.conversation import Conversation, Message
from domain.errors import NotFound


async def visible_conversation(uow: Reading, conversation_id: uuid.UUID, user_id: str) -> Conversation:
    conversation = await uow.conversations.get(conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation.visible_to(user_id)


async def ensure_member(uow: Reading, conversation_id: uuid.UUID, user_id: str) -> None:
    """NotFound unless the user is a member: the check alone, without reading every member."""
    if not await uow.conversations.is_member(conversation_id, user_id):
        raise NotFound("No such conversation.")


async def message_in_conversation(
    uow: Reading, message_id: uuid.UUID, user_id: str
) -> tuple[Message, Conversation]:
    """The message and its conversation, when the user is a member of it; NotFound otherwise."""
    message = await uow.messages.get(message_id)
    if message is None:
        raise NotFound("No such message.")
    try:
        conversation = await visible_conversation(uow, message.conversation_id, user_id)
    except NotFound:
        raise NotFound("No such message.") from None  # the same answer as for an unknown id
    return message, conversation


async def visible_attachment(uow: Reading, user_id: str, attachment_id: uuid.UUID) -> Attachment:
    """The attachment, when the user may see it (`visible`), read in the unit of work's transaction."""
    return visible(await uow.attachments.seen_by_id(user_id, attachment_id), user_id)


def visible(seen: AttachmentSeen | None, user_id: str) -> Attachment:
    """The attachment read, when the user may see it: a draft its uploader alone, an attached file
    the members of its conversation; NotFound otherwise (the same answer as for an unknown id)."""
    if seen is None:
        raise NotFound("No such file.")
    attachment = seen.attachment
    if attachment.message_id is None:
        if attachment.uploader_id != user_id:
            raise NotFound("No such file.")
    elif not seen.viewer_is_member:
        raise NotFound("No such file.")
    return attachment


class ReadingAccess:
    """`AttachmentAccess` as a read of `reads` (the SQL adapters' reads outside any transaction, or
    a unit of work of its own: right for every adapter set)."""

    def __init__(self, reads: ReadingFactory) -> None:
        self._reads = reads

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        async with self._reads() as reading:
            return await reading.attachments.seen_by_id(viewer, attachment_id)

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        async with self._reads() as reading:
            return await reading.attachments.seen_by_filename(viewer, filename)
