"""Deleting one attachment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from application.access import message_in_conversation, visible_attachment
from application.events import MediaDeleted
from application.ports.broadcaster import Broadcaster
from application.ports.clock import Clock
from application.ports.files import FileStore
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.errors import Forbidden


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteMedia:
    user_id: str
    media_id: uuid.UUID


class DeleteMediaHandler:
    """Rules: members see it, only its uploader deletes it (403 for the others); when it was the
    message's last, `has_media` turns false. Row first (commit), then the file and its thumbnail,
    then the event. A draft is its uploader's alone: deleting it tells no one."""

    def __init__(
        self, uow: UnitOfWorkFactory, files: FileStore, broadcaster: Broadcaster, clock: Clock
    ) -> None:
        self._uow = uow
        self._files = files
        self._broadcaster = broadcaster
        self._clock = clock

    async def __call__(self, command: DeleteMedia) -> None:
        async with self._uow() as uow:
            attachment = await visible_attachment(uow, command.user_id, command.media_id)
            if attachment.uploader_id != command.user_id:
                raise Forbidden("Only the uploader of a file may delete it.")
            await uow.attachments.delete(attachment.id)
            message_id = attachment.message_id
            if message_id is None:
                await uow.commit()
                for name in attachment.stored_names:
                    await self._files.delete(name)
                return
            has_media = await uow.attachments.count_for_message(message_id) > 0
            if not has_media:
                await uow.messages.set_has_media(message_id, False)
            _, conversation = await message_in_conversation(uow, message_id, command.user_id)
            seq = await uow.conversations.advance(conversation.id, self._clock.now())
            logged = await uow.events.append(
                MediaDeleted(
                    conversation_id=conversation.id,
                    seq=seq,
                    message_id=message_id,
                    media_id=attachment.id,
                    has_media=has_media,
                )
            )
            await uow.commit()
        for name in attachment.stored_names:
            await self._files.delete(name)
        await self._broadcaster.publish(logged, conversation.member_ids)
