"""Conversations and messages: the chat core the media hang on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from domain.errors import Conflict, Forbidden, InvalidInput, NotFound

MAX_GROUP_MEMBERS = 10_000  # large chat groups hold thousands; the fan-out is benched at this size
MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 10_000
MAX_USER_ID_LENGTH = 255


class ConversationKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


def valid_user_id(user_id: str) -> str:
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH or not user_id.isprintable():
        raise InvalidInput("A member id must be 1 to 255 printable characters.")
    return user_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    id: uuid.UUID
    kind: ConversationKind
    title: str | None
    member_ids: frozenset[str]
    created_at: datetime
    last_activity_at: datetime

    def has_member(self, user_id: str) -> bool:
        return user_id in self.member_ids

    def visible_to(self, user_id: str) -> Conversation:
        """The conversation, or NotFound: a non-member may not learn that it exists."""
        if not self.has_member(user_id):
            raise NotFound("No such conversation.")
        return self

    def with_members(self, added: frozenset[str]) -> Conversation:
        if self.kind is ConversationKind.DIRECT:
            raise InvalidInput("A direct conversation has exactly two members; start a group instead.")
        members = self.member_ids | {valid_user_id(m) for m in added}
        if len(members) > MAX_GROUP_MEMBERS:
            raise InvalidInput(f"A group has at most {MAX_GROUP_MEMBERS} members.")
        return replace(self, member_ids=members)

    def without_member(self, member_id: str, *, by: str) -> Conversation:
        """The conversation once `by` removed `member_id`: a member removes only themselves (they
        leave), and a direct conversation cannot be left. `by` must be a member already."""
        if member_id != by:
            raise Forbidden("A member may remove only themselves from a conversation.")
        if self.kind is ConversationKind.DIRECT:
            raise Conflict("A direct conversation has exactly two members: it cannot be left.")
        return replace(self, member_ids=self.member_ids - {member_id})


def new_conversation(
    *, creator_id: str, kind: ConversationKind, title: str | None, member_ids: list[str], now: datetime
) -> Conversation:
    """A conversation whose members are the creator and the named users, checked against the rules."""
    members = frozenset({valid_user_id(creator_id), *(valid_user_id(m) for m in member_ids)})
    if kind is ConversationKind.DIRECT:
        if len(members) != 2:
            raise InvalidInput("A direct conversation needs exactly one other member.")
        title = None
    else:
        title = (title or "").strip() or None
        if title is not None and len(title) > MAX_TITLE_LENGTH:
            raise InvalidInput(f"A title has at most {MAX_TITLE_LENGTH} characters.")
        if len(members) > MAX_GROUP_MEMBERS:
            raise InvalidInput(f"A group has at most {MAX_GROUP_MEMBERS} members.")
    return Conversation(
        id=uuid.uuid4(),
        kind=kind,
        title=title,
        member_ids=members,
        created_at=now,
        last_activity_at=now,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int  # its place in the conversation: strictly increasing, orders the history
    sender_id: str
    content: str
    has_media: bool
    created_at: datetime

    def ensure_sender(self, user_id: str, action: str) -> None:
        if self.sender_id != user_id:
            raise Forbidden(f"Only the sender of a message may {action}.")


def new_message(
    *, conversation_id: uuid.UUID, seq: int, sender_id: str, content: str, now: datetime
) -> Message:
    if len(content) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(f"A message has at most {MAX_MESSAGE_LENGTH} characters.")
    return Message(
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        content=content,
        has_media=False,
        created_at=now,
    )
