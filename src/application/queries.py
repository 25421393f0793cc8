"""Reading what a member may see: conversations, message history, a message's media."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from application.access import ensure_member, visible, visible_conversation
from application.events import Logged
from application.ports.unit_of_work import ReadingFactory, UnitOfWorkFactory
from domain.attachment import Attachment
from domain.conversation import Conversation, Message
from domain.errors import InvalidInput, NotFound

MAX_PAGE = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageWithMedia:
    message: Message
    attachments: Sequence[Attachment]


class ChatQueries:
    """Every read checks membership first; a non-member is answered as if nothing were there.
    The lists, pages and media of a message are `reads` (no transaction where the adapters have a
    cheaper read; by default the units of work); the rest reads in a unit of work."""

    def __init__(self, uow: UnitOfWorkFactory, reads: ReadingFactory | None = None) -> None:
        self._uow = uow
        self._reads: ReadingFactory = reads if reads is not None else uow

    async def conversations(self, user_id: str) -> Sequence[Conversation]:
        async with self._reads() as reading:
            return await reading.conversations.list_for_member(user_id)

    async def conversation(self, user_id: str, conversation_id: uuid.UUID) -> Conversation:
        async with self._reads() as reading:
            return await visible_conversation(reading, conversation_id, user_id)

    async def messages(
        self, user_id: str, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[MessageWithMedia]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}.")
        async with self._reads() as reading:
            await ensure_member(reading, conversation_id, user_id)
            page = await reading.messages.list_page(conversation_id, before=before, limit=limit)
            attachments = await reading.attachments.list_for_messages([m.id for m in page if m.has_media])
        by_message: dict[uuid.UUID | None, list[Attachment]] = {}
        for attachment in attachments:
            by_message.setdefault(attachment.message_id, []).append(attachment)
        return [MessageWithMedia(message=m, attachments=by_message.get(m.id, [])) for m in page]

    async def events_since(self, user_id: str, cursor: int, limit: int) -> Sequence[Logged]:
        """What a reconnecting client missed: the logged events after `cursor` of the conversations
        it belongs to, oldest first."""
        async with self._uow() as uow:
            return await uow.events.since(user_id, cursor, limit)

    async def events_between(self, after: int, upto: int) -> Sequence[tuple[Logged, frozenset[str]]]:
        """The logged events with a cursor in (`after`, `upto`], each with its audience now."""
        async with self._uow() as uow:
            return await uow.events.between(after, upto)

    async def last_cursor(self) -> int:
        async with self._uow() as uow:
            return await uow.events.last_cursor()

    async def media_of_message(self, user_id: str, message_id: uuid.UUID) -> Sequence[Attachment]:
        async with self._reads() as reading:
            seen = await reading.attachments.seen_of_message(user_id, message_id)
        if seen is None or not seen.viewer_is_member:
            raise NotFound("No such message.")  # the same answer for both
        return seen.attachments

    async def visible_media(self, user_id: str, attachment_ids: Sequence[uuid.UUID]) -> Sequence[Attachment]:
        """Those of the attachments the user may see now, in the order asked (each once); the rest,
        unknown or not theirs to see, are left out alike."""
        found: list[Attachment] = []
        async with self._reads() as reading:
            for attachment_id in dict.fromkeys(attachment_ids):
                seen = await reading.attachments.seen_by_id(user_id, attachment_id)
                try:
                    found.append(visible(seen, user_id))
                except NotFound:
                    continue
        return found

    async def bytes_stored(self, user_id: str) -> int:
        """What the user's files take now, drafts included: what their storage quota counts."""
        async with self._uow() as uow:
            return await uow.attachments.bytes_stored_by(user_id)
