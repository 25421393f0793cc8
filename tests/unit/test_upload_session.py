"""The upload as a session, driven directly as the tus route does: begin, receive per file, commit
or abort; each step refuses what it can know at that step, and an abort keeps nothing."""

from __future__ import annotations

import hashlib

import pytest

from application.events import MediaAttached
from domain.errors import Forbidden, InvalidInput, MalformedUpload, NotFound, UnsupportedMediaType
from tests.samples import sample
from tests.unit.factories import World, alices_message, assert_nothing_kept, chunked


async def test_a_session_stages_each_file_and_commits_them_to_the_message_in_order() -> None:
    world = World()
    message = await alices_message(world)
    png, gif = sample("png"), sample("gif")

    async with await world.uploads.begin("alice", message.id) as upload:
        await upload.receive("a.png", chunked(png, 100))
        await upload.receive("b.gif", chunked(gif, 7))
        assert world.files.files == {}  # nothing is published before the commit
        assert world.files.staged_open == 2
        attachments = await upload.commit()

    assert [a.original_name for a in attachments] == ["a.png", "b.gif"]
    assert [a.sha256 for a in attachments] == [
        hashlib.sha256(png).hexdigest(),
        hashlib.sha256(gif).hexdigest(),
    ]
    assert world.attachments_of(message.id) == list(attachments)
    assert {name: data for name, (data, _) in world.files.files.items()} == {
        attachments[0].filename: png,
        attachments[1].filename: gif,
    }
    assert world.files.staged_open == 0
    [event] = world.events
    assert isinstance(event, MediaAttached)
    assert event.attachments == list(attachments)


async def test_begin_refuses_a_message_the_uploader_did_not_send_before_any_byte() -> None:
    world = World()
    message = await alices_message(world)

    with pytest.raises(Forbidden):
        await world.uploads.begin("bob", message.id)
    with pytest.raises(NotFound):
        await world.uploads.begin("mallory", message.id)  # not a member: the message does not exist


async def test_an_aborted_session_keeps_nothing_of_what_it_staged() -> None:
    world = World()
    message = await alices_message(world)

    upload = await world.uploads.begin("alice", message.id)
    await upload.receive("a.png", chunked(sample("png"), 64))
    await upload.abort()
    await upload.abort()  # a second abort does nothing

    assert_nothing_kept(world, message)


async def test_a_refused_file_leaves_the_session_to_be_aborted_with_nothing_kept() -> None:
    world = World()
    message = await alices_message(world)

    async with await world.uploads.begin("alice", message.id) as upload:
        await upload.receive("a.png", chunked(sample("png"), 64))
        with pytest.raises(UnsupportedMediaType):
            await upload.receive("b.png", chunked(sample("gif"), 64))  # a GIF named .png

    assert_nothing_kept(world, message)


async def test_a_session_without_files_commits_nothing() -> None:
    world = World()
    message = await alices_message(world)

    async with await world.uploads.begin("alice", message.id) as upload:
        with pytest.raises(MalformedUpload):
            await upload.commit()

    assert_nothing_kept(world, message)


async def test_the_message_is_named_once() -> None:
    world = World()
    message = await alices_message(world)

    async with await world.uploads.begin("alice", message.id) as upload:
        with pytest.raises(InvalidInput):
            await upload.to_message(message.id)


async def test_a_session_begun_without_a_message_may_name_it_later_and_keeps_its_checks() -> None:
    world = World()
    message = await alices_message(world)

    async with await world.uploads.begin("bob") as upload:
        await upload.receive("a.png", chunked(sample("png"), 64))
        with pytest.raises(Forbidden):
            await upload.to_message(message.id)  # Bob did not send it

    assert_nothing_kept(world, message)
