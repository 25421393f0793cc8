"""Deleting one attachment: by its uploader, or by the sweep when a late scan finds malware in it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from application.access import visible_attachment
from application.events import Logged, MediaDeleted
from application.ports.broadcaster import Broadcaster
from application.ports.clock import Clock
from application.ports.files import FileStore
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.attachment import Attachment
from domain.errors import Forbidden


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteMedia:
    user_id: str
    media_id: uuid.UUID


class DeleteMediaHandler:
    """Rules: members see it, only its uploader deletes it (403 for the others); when it was the
    message's last, `has_media` turns false. Row first (commit), with its reference to its content,
    then its thumbnail and, when no other attachment has the same bytes, their file, then the
    event. A draft is its uploader's alone: deleting it tells no one."""

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
            told, gone = await self._delete_row(uow, attachment)
        await self._delete_files(gone, told)

    async def remove(self, attachment_id: uuid.UUID) -> bool:
        """Deletes the attachment whoever uploaded it, by the same steps (the sweep's removal of a
        file the scanner found malware in); False when it was already gone."""
        async with self._uow() as uow:
            seen = await uow.attachments.seen_by_id("", attachment_id)
            if seen is None:
                return False
            told, gone = await self._delete_row(uow, seen.attachment)
        await self._delete_files(gone, told)
        return True

    async def _delete_row(
        self, uow: UnitOfWork, attachment: Attachment
    ) -> tuple[tuple[Logged, frozenset[str]] | None, Sequence[str]]:
        """Deletes the row (and its reference to its content) and commits. Returns the event and
        whom to tell, when it had a message, and the store's names to unlink now."""
        gone = await uow.attachments.delete(attachment.id)
        message_id = attachment.message_id
        message = None if message_id is None else await uow.messages.get(message_id)
        conversation = None if message is None else await uow.conversations.get(message.conversation_id)
        if message_id is None or conversation is None:
            await uow.commit()
            return None, gone
        has_media = await uow.attachments.count_for_message(message_id) > 0
        if not has_media:
            await uow.messages.set_has_media(message_id, False)
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
        return (logged, conversation.member_ids), gone

    async def _delete_files(self, gone: Sequence[str], told: tuple[Logged, frozenset[str]] | None) -> None:
        for name in gone:
            await self._files.delete(name)
        if told is not None:
            await self._broadcaster.publish(*told)
