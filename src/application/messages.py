"""Posting and deleting messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from application.access import message_in_conversation, visible_attachment, visible_conversation
from application.events import MessageCreated, MessageDeleted
from application.ports.broadcaster import Broadcaster
from application.ports.clock import Clock
from application.ports.files import FileStore
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.queries import MessageWithMedia
from domain.attachment import Attachment
from domain.conversation import new_message
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.policy import MAX_FILES_PER_MESSAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class PostMessage:
    sender_id: str
    conversation_id: uuid.UUID
    content: str
    attachment_ids: list[uuid.UUID]


class PostMessageHandler:
    """Rules: members only; a message says something: text, or the sender's drafts named in
    `attachment_ids` (at most ten), which join it in the same transaction. A file the sender can
    see but did not upload is refused (403), one of theirs already attached too (409); one they
    cannot see (another user's draft included) is not found (404); nothing changes on refusal. It takes the
    conversation's next sequence number; members hear of it once, whole, after commit."""

    def __init__(self, uow: UnitOfWorkFactory, broadcaster: Broadcaster, clock: Clock) -> None:
        self._uow = uow
        self._broadcaster = broadcaster
        self._clock = clock

    async def __call__(self, command: PostMessage) -> MessageWithMedia:
        draft_ids = list(dict.fromkeys(command.attachment_ids))  # each once, in the order given
        if len(draft_ids) > MAX_FILES_PER_MESSAGE:
            raise InvalidInput(f"A message takes at most {MAX_FILES_PER_MESSAGE} files.")
        if not command.content.strip() and not draft_ids:
            raise InvalidInput("A message needs some content or some files.")
        now = self._clock.now()
        async with self._uow() as uow:
            conversation = await visible_conversation(uow, command.conversation_id, command.sender_id)
            drafts = [await _own_draft(uow, draft_id, command.sender_id) for draft_id in draft_ids]
            seq = await uow.conversations.advance(conversation.id, now)
            message = new_message(
                conversation_id=conversation.id,
                seq=seq,
                sender_id=command.sender_id,
                content=command.content,
                now=now,
            )
            attachments = [replace(draft, message_id=message.id) for draft in drafts]
            if attachments:
                message = replace(message, has_media=True)
            await uow.messages.add(message)
            await uow.attachments.attach(draft_ids, message.id)
            logged = await uow.events.append(
                MessageCreated(
                    conversation_id=conversation.id, seq=seq, message=message, attachments=attachments
                )
            )
            await uow.commit()
        await self._broadcaster.publish(logged, conversation.member_ids)
        return MessageWithMedia(message=message, attachments=attachments)


async def _own_draft(uow: UnitOfWork, draft_id: uuid.UUID, sender_id: str) -> Attachment:
    # What the sender may not see (another user's draft, a file of a conversation they are not
    # in) is answered as an unknown id would be; what they see but may not send, with 403 or 409.
    draft = await visible_attachment(uow, sender_id, draft_id)
    if draft.uploader_id != sender_id:
        raise Forbidden(f"Upload {draft_id} is another user's: only its uploader may send it.")
    if draft.message_id is not None:
        raise Conflict(f"Upload {draft_id} is already attached to a message.")
    return draft


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteMessage:
    user_id: str
    message_id: uuid.UUID


class DeleteMessageHandler:
    """Rules: members see the message, only its sender deletes it (403 for the others); its
    attachments go with it, each dropping its reference to its content. The rows go first (one
    commit), then the files nobody names any more, then the event: a crash in between leaves files
    no row names, which the sweeper removes, never a dangling row."""

    def __init__(
        self, uow: UnitOfWorkFactory, files: FileStore, broadcaster: Broadcaster, clock: Clock
    ) -> None:
        self._uow = uow
        self._files = files
        self._broadcaster = broadcaster
        self._clock = clock

    async def __call__(self, command: DeleteMessage) -> None:
        async with self._uow() as uow:
            message, conversation = await message_in_conversation(uow, command.message_id, command.user_id)
            message.ensure_sender(command.user_id, "delete it")
            gone = await uow.attachments.delete_for_message(message.id)
            await uow.messages.delete(message.id)
            seq = await uow.conversations.advance(conversation.id, self._clock.now())
            logged = await uow.events.append(
                MessageDeleted(conversation_id=conversation.id, seq=seq, message_id=message.id)
            )
            await uow.commit()
        for name in gone:  # thumbnails, and the files whose last reference went
            await self._files.delete(name)
        await self._broadcaster.publish(logged, conversation.member_ids)
