"""Serving a stored file to the members of its conversation, and to no one else."""

from __future__ import annotations

import uuid

import pytest

from application.conversations import AddMembers
from application.messages import DeleteMessage
from domain.attachment import Attachment
from domain.errors import NotFound
from tests.samples import sample
from tests.unit.factories import START, AttachmentFactory, World, alices_message


async def served_bytes(world: World, user_id: str, filename: str) -> tuple[Attachment, bytes]:
    async with world.serve(user_id, filename) as download:
        file = download.file
        data = b"".join([chunk async for chunk in file.read(0, file.size, 1000)])
        return download.attachment, data


# ---- ServeMedia ----------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["alice", "bob"])
async def test_a_member_gets_the_file_and_its_row(member: str) -> None:
    world = World()
    message = await alices_message(world)
    data = sample("png", 5000)
    attachment = await world.seed_attachment(message, data)

    served, body = await served_bytes(world, member, attachment.filename)

    assert served == attachment
    assert body == data


async def test_an_uploaded_file_is_served_as_uploaded() -> None:
    world = World()
    message = await alices_message(world)
    data = sample("pdf", 12_345)
    [attachment] = await world.attach(message, ("report.pdf", data))

    served, body = await served_bytes(world, "bob", attachment.filename)

    assert served == attachment
    assert body == data


async def test_a_user_added_to_the_group_later_sees_its_files() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    with pytest.raises(NotFound):
        await served_bytes(world, "carol", attachment.filename)

    await world.add_members(
        AddMembers(user_id="bob", conversation_id=message.conversation_id, member_ids=["carol"])
    )

    assert (await served_bytes(world, "carol", attachment.filename))[0] == attachment


async def not_found_text(world: World, user_id: str, filename: str) -> str:
    with pytest.raises(NotFound) as refused:
        async with world.serve(user_id, filename):
            pytest.fail("the file was served")
    return str(refused.value)


async def test_everyone_who_may_not_see_a_file_gets_the_same_not_found() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    other_group = await world.group("mallory")
    mallorys = await world.seed_attachment(await world.post("mallory", other_group.id))

    answers = {
        "outsider": await not_found_text(world, "mallory", attachment.filename),
        "unknown name": await not_found_text(world, "alice", f"{uuid.uuid4()}.png"),
        "another group's file": await not_found_text(world, "alice", mallorys.filename),
        "traversal": await not_found_text(world, "alice", "../x.png"),
        "deep traversal": await not_found_text(world, "alice", f"../../{attachment.filename}"),
        "upper case": await not_found_text(world, "alice", attachment.filename.upper()),
        "with a NUL": await not_found_text(world, "alice", f"{attachment.filename}\x00.png"),
        "absolute path": await not_found_text(world, "alice", f"/{attachment.filename}"),
    }

    assert set(answers.values()) == {"No such file."}


async def test_a_file_in_the_store_with_no_row_is_not_served() -> None:
    world = World()
    await alices_message(world)
    stray = AttachmentFactory.build()
    world.files.files[stray.filename] = (sample("png"), START)

    assert await not_found_text(world, "alice", stray.filename) == "No such file."


async def test_a_row_whose_file_is_missing_is_not_found_rather_than_broken() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    del world.files.files[attachment.filename]

    with pytest.raises(NotFound):
        await served_bytes(world, "alice", attachment.filename)


async def test_a_deleted_messages_files_are_no_longer_served() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))

    assert await not_found_text(world, "alice", attachment.filename) == "No such file."
