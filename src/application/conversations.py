"""Starting conversations, adding members, and leaving."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from application.access import visible_conversation
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.conversation import Conversation, ConversationKind, new_conversation


@dataclass(frozen=True, slots=True, kw_only=True)
class StartConversation:
    creator_id: str
    kind: ConversationKind
    title: str | None
    member_ids: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    conversation: Conversation
    created: bool  # False when an existing direct conversation was returned


class StartConversationHandler:
    """Rules: the creator is always a member; a direct conversation has exactly two members and
    there is at most one per pair (asking again returns it); a group has at most 10,000 members."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: StartConversation) -> Started:
        conversation = new_conversation(
            creator_id=command.creator_id,
            kind=command.kind,
            title=command.title,
            member_ids=command.member_ids,
            now=self._clock.now(),
        )
        async with self._uow() as uow:
            if conversation.kind is ConversationKind.DIRECT:
                a, b = sorted(conversation.member_ids)
                existing = await uow.conversations.find_direct(a, b)
                if existing is not None:
                    return Started(conversation=existing, created=False)
            await uow.conversations.add(conversation)
            await uow.commit()
        return Started(conversation=conversation, created=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddMembers:
    user_id: str
    conversation_id: uuid.UUID
    member_ids: list[str]


class AddMembersHandler:
    """Rules: any member of a group may add users to it; direct conversations take no one else."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, command: AddMembers) -> Conversation:
        async with self._uow() as uow:
            conversation = await visible_conversation(uow, command.conversation_id, command.user_id)
            grown = conversation.with_members(frozenset(command.member_ids))
            await uow.conversations.add_members(conversation.id, grown.member_ids - conversation.member_ids)
            await uow.commit()
        return grown


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveMember:
    user_id: str  # who asks
    conversation_id: uuid.UUID
    member_id: str  # whom to remove


class RemoveMemberHandler:
    """Rules:
    - a member may remove only themselves: that is leaving (another member's id: 403); a
      non-member is answered as for an unknown conversation (404), whoever they name;
    - a direct conversation cannot be left (409): it has exactly two members;
    - from the commit on, the leaver is no member: the conversation, its messages, their media
      and files are unknown to them (404, as for an unknown id), its events are no longer sent to
      them (an event's audience is the member list when its change commits) nor replayed to them;
    - what they sent and uploaded stays with the conversation; their drafts stay theirs;
    - a group whose last member leaves stays as it is: nobody can see it or join it again, its
      rows and files are kept (nothing is deleted on a member's request that others put there).
    No event is sent: the contract has none for it (members see the list in the conversation)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, command: RemoveMember) -> None:
        async with self._uow() as uow:
            conversation = await visible_conversation(uow, command.conversation_id, command.user_id)
            conversation.without_member(command.member_id, by=command.user_id)
            await uow.conversations.remove_member(conversation.id, command.member_id)
            await uow.commit()
