"""The sweeper: stale drafts and files no row names go; everything a row names stays."""

from __future__ import annotations

import uuid
from datetime import timedelta

from application.sweep import BATCH
from domain.attachment import Rendition, rendition_name, stored_name, thumbnail_name
from tests import photos
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
    # All three had the same bytes: their one file stays for the two left.
    assert set(world.files.files) == {young.stored_as, attached.stored_as}
    [content] = world.db.contents.values()
    assert content.refs == 2


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


async def test_a_thumbnail_lives_as_long_as_its_row_says_it_has_one() -> None:
    world = World.with_processing()
    [draft] = await world.drafts("alice", ("draft.png", photos.png()))
    message = await alices_message(world)
    shown, document = await world.attach(message, ("a.png", photos.png()), ("b.pdf", sample("pdf")))
    assert draft.thumbnail_filename is not None
    assert shown.thumbnail_filename is not None
    # A thumbnail whose attachment never came, and one named after a row that has no thumbnail.
    stray, claimed = thumbnail_name(uuid.uuid4()), thumbnail_name(document.id)
    long_ago = world.clock.now() - ORPHAN_GRACE - timedelta(seconds=1)
    world.files.files[stray] = (b"x", long_ago)
    world.files.files[claimed] = (b"y", long_ago)
    for name in shown.stored_names:
        world.files.files[name] = (world.files.files[name][0], long_ago)
    world.clock.tick(DRAFT_TTL.total_seconds() + 1)

    report = await world.sweep()

    assert report.drafts == 1
    assert report.orphans == 2
    assert set(world.files.files) == {*shown.stored_names, document.filename}


async def test_a_preview_lives_as_long_as_its_row_says_it_has_one() -> None:
    world = World.with_processing()
    [draft] = await world.drafts("alice", ("draft.jpg", photos.jpeg(2000, 1000)))
    message = await alices_message(world)
    shown, small = await world.attach(message, ("a.jpg", photos.jpeg(2000, 1000)), ("b.png", photos.png()))
    assert draft.rendition_filename(Rendition.PREVIEW) is not None
    assert shown.rendition_filename(Rendition.PREVIEW) is not None
    assert small.rendition_filename(Rendition.PREVIEW) is None
    # A preview whose attachment never came, and one named after a row that has none.
    stray = rendition_name(uuid.uuid4(), Rendition.PREVIEW)
    claimed = rendition_name(small.id, Rendition.PREVIEW)
    long_ago = world.clock.now() - ORPHAN_GRACE - timedelta(seconds=1)
    world.files.files[stray] = (b"x", long_ago)
    world.files.files[claimed] = (b"y", long_ago)
    for name in (*shown.stored_names, *small.stored_names):
        world.files.files[name] = (world.files.files[name][0], long_ago)
    world.clock.tick(DRAFT_TTL.total_seconds() + 1)

    report = await world.sweep()

    assert report.drafts == 1  # with its file, thumbnail and preview
    assert report.orphans == 2
    assert set(world.files.files) == {*shown.stored_names, *small.stored_names}
