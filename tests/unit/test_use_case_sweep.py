"""The sweeper: stale drafts and files no row names go; everything a row names stays."""

from __future__ import annotations

import uuid
from datetime import timedelta

from application.sweep import BATCH
from domain.attachment import stored_name
from tests.samples import sample
from tests.unit.factories import DRAFT_TTL, ORPHAN_GRACE, World, alices_message


async def test_drafts_older_than_the_ttl_go_with_their_files() -> None:
    world = World()
    await world.drafts("alice", ("old.png", sample("png")))
    world.clock.tick(DRAFT_TTL.total_seconds() - 10)
    [young] = await world.drafts("alice", ("young.png", sample("png")))
    message = await alices_message(world)
    [attached] = await world.attach(message, ("kept.png", sample("png")))
    world.clock.tick(20)

    report = await world.sweep()

    assert report.drafts == 1
    assert set(world.db.attachments) == {young.id, attached.id}
    assert set(world.files.files) == {young.filename, attached.filename}


async def test_files_no_row_names_go_after_the_grace_and_named_ones_never() -> None:
    world = World()
    message = await alices_message(world)
    [named] = await world.attach(message, ("a.png", sample("png")))

    forgotten, in_flight = stored_name(uuid.uuid4(), "png"), stored_name(uuid.uuid4(), "png")
    long_ago = world.clock.now() - ORPHAN_GRACE - timedelta(seconds=1)
    world.files.files[forgotten] = (b"x", long_ago)
    world.files.files[in_flight] = (b"y", world.clock.now())  # published a moment ago, row to come
    world.files.files[named.filename] = (world.files.files[named.filename][0], long_ago)

    report = await world.sweep()

    assert report.orphans == 1
    assert set(world.files.files) == {named.filename, in_flight}


async def test_a_backlog_larger_than_a_batch_is_cleared_in_one_run() -> None:
    world = World()

    long_ago = world.clock.now() - ORPHAN_GRACE - timedelta(days=1)
    message = await alices_message(world)
    [named] = await world.attach(message, ("a.png", sample("png")))
    world.files.files[named.filename] = (world.files.files[named.filename][0], long_ago)
    for _ in range(BATCH + 7):
        world.files.files[stored_name(uuid.uuid4(), "txt")] = (b"x", long_ago)

    report = await world.sweep()

    assert report.orphans == BATCH + 7
    assert set(world.files.files) == {named.filename}
