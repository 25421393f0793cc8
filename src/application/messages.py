"""Posting and deleting messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from application.access import message_in_conversation, visible_conversation
from application.events import MessageCreated, MessageDeleted
from application.ports import Broadcaster, Clock, FileStore, UnitOfWorkFactory
from domain.conversation import Message, new_message
from domain.errors import InvalidInput


@dataclass(frozen=True, slots=True, kw_only=True)
class PostMessage:
    sender_id: str
    conversation_id: uuid.UUID
    content: str
    attachment_ids: list[uuid.UUID]


class PostMessageHandler:
    """Rules: members only; a message says something (text now, files through the upload route
    after it); it takes the conversation's next sequence number; members hear of it after commit."""

    def __init__(self, uow: UnitOfWorkFactory, broadcaster: Broadcaster, clock: Clock) -> None:
        self._uow = uow
        self._broadcaster = broadcaster
        self._clock = clock

    async def __call__(self, command: PostMessage) -> Message:
        if command.attachment_ids:
            raise InvalidInput(
                "attachment_ids names draft uploads, which this service does not keep yet: "
                "post the message, then upload its files with its message_id."
            )
        if not command.content.strip():
            raise InvalidInput("A message needs some content.")
        now = self._clock.now()
        async with self._uow() as uow:
            conversation = await visible_conversation(uow, command.conversation_id, command.sender_id)
            seq = await uow.conversations.advance(conversation.id, now)
            message = new_message(
                conversation_id=conversation.id,
                seq=seq,
                sender_id=command.sender_id,
                content=command.content,
                now=now,
            )
            await uow.messages.add(message)
            logged = await uow.events.append(
                MessageCreated(conversation_id=conversation.id, seq=seq, message=message, attachments=())
            )
            await uow.commit()
        await self._broadcaster.publish(logged, conversation.member_ids)
        return message


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteMessage:
    user_id: str
    message_id: uuid.UUID


class DeleteMessageHandler:
    """Rules: members see the message, only its sender deletes it (403 for the others); its
    attachments go with it. The rows go first (one commit), then the files, then the event: a
    crash in between leaves files no row names, which the sweeper removes, never a dangling row."""

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
            attachments = await uow.attachments.list_for_messages([message.id])
            await uow.messages.delete(message.id)
            seq = await uow.conversations.advance(conversation.id, self._clock.now())
            logged = await uow.events.append(
                MessageDeleted(conversation_id=conversation.id, seq=seq, message_id=message.id)
            )
            await uow.commit()
        for attachment in attachments:
            for name in attachment.stored_names:  # the file and its thumbnail
                await self._files.delete(name)
        await self._broadcaster.publish(logged, conversation.member_ids)
