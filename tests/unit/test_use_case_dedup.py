"""One copy per content, in the use cases over the in-memory adapters: what is published, what is
referred to, and what a crash between a delete's commit and its unlink leaves for the sweeper."""

from __future__ import annotations

import pytest

from adapters.memory.repositories import InMemoryContentRepository
from application.delete_media import DeleteMedia
from application.ports.repositories import StoredContent
from domain.policy import MediaPolicy
from tests.samples import sample
from tests.unit.factories import ORPHAN_GRACE, World, alices_message

MEME = sample("pdf", 4000)


async def test_known_bytes_are_referred_to_not_published_again() -> None:
    world = World()
    message = await alices_message(world)
    [first] = await world.attach(message, ("a.pdf", MEME))
    publishes = len(world.files.files)
    [second] = await world.drafts("bob", ("b.pdf", MEME))
    assert len(world.files.files) == publishes == 1
    assert second.stored_as == first.filename != second.filename
    [content] = world.db.contents.values()
    assert (content.name, content.refs) == (first.filename, 2)
    async with world.serve("bob", second.filename) as download:  # bob's own name, the shared bytes
        assert download.file.size == len(MEME)


async def test_bytes_whose_last_reference_went_after_the_look_up_are_published_after_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The look-up saw a content that a delete then took: the transaction finds nothing to refer
    to, and the upload publishes its own copy and commits again."""
    world = World()
    message = await alices_message(world)
    [gone] = await world.attach(message, ("a.pdf", MEME))
    seen = world.db.contents[gone.sha256]
    await world.delete_media(DeleteMedia(user_id="alice", media_id=gone.id))
    assert world.files.files == {}

    async def stale(self: InMemoryContentRepository, sha256: str) -> StoredContent | None:
        return seen  # what the look-up read a moment before the delete committed

    monkeypatch.setattr(InMemoryContentRepository, "get", stale)
    [again] = await world.drafts("bob", ("b.pdf", MEME))
    assert again.stored_as == again.filename
    assert set(world.files.files) == {again.filename}
    assert world.db.contents[again.sha256].refs == 1


async def test_a_crash_between_the_commit_and_the_unlink_leaves_a_file_the_sweeper_removes() -> None:
    world = World()
    message = await alices_message(world)
    [alices] = await world.attach(message, ("a.pdf", MEME))
    [bobs] = await world.drafts("bob", ("b.pdf", MEME))

    async def crash(name: str) -> None:
        raise SystemExit("the process died after the commit")

    remove = world.files.delete
    world.files.delete = crash  # type: ignore[method-assign]
    await world.delete_media(DeleteMedia(user_id="alice", media_id=alices.id))  # not the last: no unlink
    with pytest.raises(SystemExit):
        await world.delete_media(DeleteMedia(user_id="bob", media_id=bobs.id))
    world.files.delete = remove  # type: ignore[method-assign]
    assert world.db.contents == {}
    assert set(world.files.files) == {alices.filename}  # the content's file, named by no row

    data, _ = world.files.files[alices.filename]
    world.files.files[alices.filename] = (data, world.clock.now())
    assert (await world.sweep()).orphans == 0  # within the grace: an upload may be committing
    world.clock.tick(ORPHAN_GRACE.total_seconds() + 1)
    assert (await world.sweep()).orphans == 1
    assert world.files.files == {}


async def test_a_second_copy_left_by_a_crash_is_swept_and_the_shared_one_kept() -> None:
    """Two uploads of the same bytes at once each publish a copy; the one that lost the race is
    removed after the commit, or, after a crash, by the sweeper: no content names it."""
    world = World()
    message = await alices_message(world)
    [first] = await world.attach(message, ("a.pdf", MEME))
    [second] = await world.drafts("bob", ("b.pdf", MEME))
    data, _ = world.files.files[first.filename]
    for name in (first.filename, second.filename):  # the second: the loser's copy
        world.files.files[name] = (data, world.clock.now())
    world.clock.tick(ORPHAN_GRACE.total_seconds() + 1)
    assert (await world.sweep()).orphans == 1
    assert set(world.files.files) == {first.filename}


async def test_a_shared_copy_counts_for_each_uploader() -> None:
    world = World(policy=MediaPolicy.from_lists(storage_quota=len(MEME) * 3 // 2))
    message = await alices_message(world)
    await world.attach(message, ("a.pdf", MEME))
    await world.drafts("bob", ("b.pdf", MEME))
    async with world.uow() as uow:
        assert await uow.attachments.bytes_stored_by("alice") == len(MEME)
        assert await uow.attachments.bytes_stored_by("bob") == len(MEME)
    assert len(world.files.files) == 1
