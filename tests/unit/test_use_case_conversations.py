"""Starting conversations and adding members, on the in-memory adapters."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.conversations import AddMembers, StartConversation
from domain.conversation import MAX_GROUP_MEMBERS, ConversationKind
from domain.errors import InvalidInput, NotFound
from tests.unit.factories import START, GroupFactory, World


def direct(creator_id: str, *member_ids: str) -> StartConversation:
    return StartConversation(
        creator_id=creator_id, kind=ConversationKind.DIRECT, title="ignored", member_ids=list(member_ids)
    )


# ---- StartConversation ---------------------------------------------------------------------------


async def test_a_group_is_stored_with_its_creator_as_a_member() -> None:
    world = World()
    command = GroupFactory.build()

    started = await world.start(command)

    assert started.created
    stored = world.db.conversations[started.conversation.id]
    assert stored == started.conversation
    assert stored.member_ids == {command.creator_id, *command.member_ids}
    assert stored.created_at == stored.last_activity_at == START


async def test_a_creator_alone_makes_a_group_of_one() -> None:
    world = World()
    started = await world.start(GroupFactory.build(creator_id="alice", member_ids=[]))
    assert world.db.conversations[started.conversation.id].member_ids == {"alice"}


async def test_a_direct_conversation_holds_the_two_users_and_no_title() -> None:
    world = World()
    started = await world.start(direct("alice", "bob"))
    stored = world.db.conversations[started.conversation.id]
    assert stored.kind is ConversationKind.DIRECT
    assert stored.member_ids == {"alice", "bob"}
    assert stored.title is None


@pytest.mark.parametrize(
    "member_ids",
    [[], ["alice"], ["bob", "carol"], ["alice", "bob", "carol"]],
    ids=["nobody", "only-self", "two-others", "self-and-two-others"],
)
async def test_a_direct_conversation_needs_exactly_one_other_member(member_ids: list[str]) -> None:
    world = World()
    with pytest.raises(InvalidInput):
        await world.start(direct("alice", *member_ids))
    assert world.db.conversations == {}


async def test_naming_the_creator_too_still_makes_a_pair() -> None:
    world = World()
    started = await world.start(direct("alice", "alice", "bob", "bob"))
    assert world.db.conversations[started.conversation.id].member_ids == {"alice", "bob"}


@pytest.mark.parametrize(
    ("first", "second"), [(("alice", "bob"), ("alice", "bob")), (("alice", "bob"), ("bob", "alice"))]
)
async def test_the_same_pair_twice_gets_the_existing_conversation(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    world = World()
    original = await world.start(direct(*first))
    world.clock.tick()

    again = await world.start(direct(*second))

    assert not again.created
    assert again.conversation == original.conversation
    assert list(world.db.conversations) == [original.conversation.id]


async def test_a_pair_with_a_group_in_common_still_gets_its_direct_conversation() -> None:
    world = World()
    group = await world.group("alice", "bob")
    started = await world.start(direct("alice", "bob"))
    assert started.created
    assert started.conversation.id != group.id
    assert len(world.db.conversations) == 2


async def test_two_groups_of_the_same_people_are_two_conversations() -> None:
    world = World()
    first = await world.start(GroupFactory.build(creator_id="alice", member_ids=["bob"]))
    second = await world.start(GroupFactory.build(creator_id="alice", member_ids=["bob"]))
    assert second.created
    assert first.conversation.id != second.conversation.id


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("  Team  ", "Team"),
        ("\tLunch\n", "Lunch"),
        ("   ", None),
        ("", None),
        (None, None),
        ("t" * 200, "t" * 200),
    ],
)
async def test_a_group_title_is_trimmed(title: str | None, stored: str | None) -> None:
    world = World()
    started = await world.start(GroupFactory.build(title=title))
    assert world.db.conversations[started.conversation.id].title == stored


@given(title=st.text(max_size=300))
async def test_any_title_is_stored_trimmed_or_refused(title: str) -> None:
    world = World()
    trimmed = title.strip()
    if len(trimmed) > 200:
        with pytest.raises(InvalidInput):
            await world.start(GroupFactory.build(title=title))
        assert world.db.conversations == {}
    else:
        started = await world.start(GroupFactory.build(title=title))
        assert world.db.conversations[started.conversation.id].title == (trimmed or None)


async def test_a_title_longer_than_200_characters_is_refused() -> None:
    world = World()
    with pytest.raises(InvalidInput):
        await world.start(GroupFactory.build(title=" " + "t" * 201 + " "))
    assert world.db.conversations == {}


async def test_a_group_takes_up_to_max_members_creator_included() -> None:
    world = World()
    others = [f"user-{n}" for n in range(MAX_GROUP_MEMBERS - 1)]
    started = await world.start(GroupFactory.build(creator_id="alice", member_ids=others))
    assert len(world.db.conversations[started.conversation.id].member_ids) == MAX_GROUP_MEMBERS


async def test_a_group_of_one_more_than_max_members_is_refused() -> None:
    world = World()
    others = [f"user-{n}" for n in range(MAX_GROUP_MEMBERS)]
    with pytest.raises(InvalidInput):
        await world.start(GroupFactory.build(creator_id="alice", member_ids=others))
    assert world.db.conversations == {}


@pytest.mark.parametrize("bad", ["", "x" * 256, "tab\there", "new\nline"])
async def test_a_member_id_must_be_printable_and_short(bad: str) -> None:
    world = World()
    with pytest.raises(InvalidInput):
        await world.start(GroupFactory.build(member_ids=["bob", bad]))
    with pytest.raises(InvalidInput):
        await world.start(GroupFactory.build(creator_id=bad))
    assert world.db.conversations == {}


# ---- AddMembers ----------------------------------------------------------------------------------


async def test_any_member_of_a_group_adds_users() -> None:
    world = World()
    group = await world.group("alice", "bob")

    grown = await world.add_members(AddMembers(user_id="bob", conversation_id=group.id, member_ids=["carol"]))

    assert grown.member_ids == {"alice", "bob", "carol"}
    assert world.db.conversations[group.id].member_ids == {"alice", "bob", "carol"}


async def test_adding_members_already_there_changes_nothing() -> None:
    world = World()
    group = await world.group("alice", "bob")
    grown = await world.add_members(
        AddMembers(user_id="alice", conversation_id=group.id, member_ids=["bob", "alice"])
    )
    assert grown.member_ids == world.db.conversations[group.id].member_ids == {"alice", "bob"}


async def test_a_user_added_later_sees_the_group() -> None:
    world = World()
    group = await world.group("alice", "bob")
    with pytest.raises(NotFound):
        await world.queries.conversation("carol", group.id)

    await world.add_members(AddMembers(user_id="alice", conversation_id=group.id, member_ids=["carol"]))

    assert (await world.queries.conversation("carol", group.id)).id == group.id


async def test_a_direct_conversation_takes_no_one_else() -> None:
    world = World()
    pair = (await world.start(direct("alice", "bob"))).conversation
    with pytest.raises(InvalidInput):
        await world.add_members(AddMembers(user_id="alice", conversation_id=pair.id, member_ids=["carol"]))
    assert world.db.conversations[pair.id].member_ids == {"alice", "bob"}


@pytest.mark.parametrize("conversation", ["someone-elses", "unknown"])
async def test_a_non_member_cannot_add_to_a_group(conversation: str) -> None:
    world = World()
    group = await world.group("alice", "bob")
    target = group.id if conversation == "someone-elses" else uuid.uuid4()
    with pytest.raises(NotFound):
        await world.add_members(AddMembers(user_id="mallory", conversation_id=target, member_ids=["mallory"]))
    assert world.db.conversations[group.id].member_ids == {"alice", "bob"}


async def test_a_group_cannot_grow_past_max_members() -> None:
    world = World()
    group = await world.group("alice", *(f"user-{n}" for n in range(MAX_GROUP_MEMBERS - 2)))
    await world.add_members(AddMembers(user_id="alice", conversation_id=group.id, member_ids=["one-more"]))
    assert len(world.db.conversations[group.id].member_ids) == MAX_GROUP_MEMBERS

    with pytest.raises(InvalidInput):
        await world.add_members(
            AddMembers(user_id="alice", conversation_id=group.id, member_ids=["too-many"])
        )
    assert "too-many" not in world.db.conversations[group.id].member_ids


async def test_an_invalid_member_id_adds_no_one() -> None:
    world = World()
    group = await world.group("alice")
    with pytest.raises(InvalidInput):
        await world.add_members(AddMembers(user_id="alice", conversation_id=group.id, member_ids=["bob", ""]))
    assert world.db.conversations[group.id].member_ids == {"alice"}
