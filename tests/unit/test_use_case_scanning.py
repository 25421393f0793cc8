"""Malware scanning of uploads, with the in-memory scanner: what is found is refused whole, what a
scanner that is down lets through depends on SCAN_FAIL, and the sweep scans it again later."""

from __future__ import annotations

import pytest

from adapters.memory import InMemoryScanner
from application.events import MediaDeleted
from application.resumable import AppendToUpload, CreateUpload
from application.scanning import Scanning
from domain.errors import Infected, ScannerUnavailable
from tests import photos
from tests.samples import EICAR, eicar_pdf, eicar_txt, eicar_zip, sample
from tests.unit.factories import World, alices_message, assert_nothing_kept, chunked

SIGNATURE = "Test.EICAR"


def scanning_world(*, fail_open: bool = False, processing: bool = False) -> tuple[World, InMemoryScanner]:
    scanner = InMemoryScanner(EICAR, SIGNATURE)
    scanning = Scanning(scanner, fail_open=fail_open)
    world = World.with_processing() if processing else World()
    world = World(policy=world.policy, processors=world.processors, scanning=scanning)
    return world, scanner


@pytest.mark.parametrize(
    ("name", "data"),
    [("note.txt", eicar_txt()), ("archive.zip", eicar_zip()), ("paper.pdf", eicar_pdf())],
)
async def test_a_file_with_malware_refuses_the_whole_upload_naming_the_signature(
    name: str, data: bytes
) -> None:
    world, _ = scanning_world()
    message = await alices_message(world)

    with pytest.raises(Infected) as refused:
        await world.attach(message, ("clean.png", sample("png")), (name, data))

    assert SIGNATURE in str(refused.value)
    assert name in str(refused.value)
    assert_nothing_kept(world, message)


async def test_clean_files_are_stored_scanned() -> None:
    world, scanner = scanning_world()
    message = await alices_message(world)

    stored = await world.attach(message, ("a.png", sample("png")), ("b.txt", sample("txt")))

    assert [a.unscanned for a in stored] == [False, False]
    assert scanner.scanned == 2


async def test_what_is_scanned_is_what_processing_made() -> None:
    # A JPEG's comment holds the pattern; processing re-encodes it, so what is served is clean.
    world, scanner = scanning_world(processing=True)
    message = await alices_message(world)

    jpeg = photos.jpeg()
    commented = jpeg[:2] + b"\xff\xfe" + (len(EICAR) + 2).to_bytes(2, "big") + EICAR + jpeg[2:]
    [stored] = await world.attach(message, ("photo.jpg", commented))

    assert EICAR not in world.files.files[stored.filename][0]
    assert scanner.scanned == 1


async def test_a_scanner_down_refuses_the_upload_when_scanning_fails_closed() -> None:
    world, scanner = scanning_world()
    message = await alices_message(world)
    scanner.down = True

    with pytest.raises(ScannerUnavailable):
        await world.attach(message, ("a.png", sample("png")))

    assert_nothing_kept(world, message)


async def test_a_scanner_down_stores_the_files_unscanned_when_scanning_fails_open() -> None:
    world, scanner = scanning_world(fail_open=True)
    message = await alices_message(world)
    scanner.down = True

    stored = await world.attach(message, ("a.png", sample("png")), ("b.txt", eicar_txt()))

    assert [a.unscanned for a in stored] == [True, True]
    assert all(a.filename in world.files.files for a in stored)


async def test_the_sweep_waits_while_the_scanner_is_down_then_marks_clean_and_removes_infected() -> None:
    world, scanner = scanning_world(fail_open=True)
    message = await alices_message(world)
    scanner.down = True
    clean, infected = await world.attach(message, ("a.png", sample("png")), ("b.txt", eicar_txt()))
    await world.drafts("alice", ("c.zip", eicar_zip()))
    world.events.clear()

    still_down = await world.sweep()
    assert (still_down.scanned, still_down.infected) == (0, 0)
    assert all(a.unscanned for a in world.db.attachments.values())

    scanner.down = False
    report = await world.sweep()

    assert (report.scanned, report.infected) == (1, 2)
    assert set(world.db.attachments) == {clean.id}
    assert world.db.attachments[clean.id].unscanned is False
    assert set(world.files.files) == {clean.filename}
    [event] = world.events
    assert isinstance(event, MediaDeleted)
    assert (event.media_id, event.has_media) == (infected.id, True)
    assert (await world.sweep()).scanned == 0  # nothing left to scan


async def test_a_sweep_without_a_scanner_leaves_unscanned_files_alone() -> None:
    world, scanner = scanning_world(fail_open=True)
    message = await alices_message(world)
    scanner.down = True
    [stored] = await world.attach(message, ("b.txt", eicar_txt()))
    plain = World()
    plain.db.attachments.update(world.db.attachments)

    report = await plain.sweep()

    assert (report.scanned, report.infected) == (0, 0)
    assert stored.id in plain.db.attachments


async def test_a_resumable_upload_is_scanned_like_any_other() -> None:
    world, _ = scanning_world()
    message = await alices_message(world)
    data = eicar_txt()
    session = await world.resumable.create(
        CreateUpload(uploader_id="alice", original_name="note.txt", length=len(data), message_id=message.id)
    )

    with pytest.raises(Infected):
        await world.resumable.append(
            AppendToUpload(uploader_id="alice", upload_id=session.id, offset=0, chunks=chunked(data, 4096))
        )

    assert_nothing_kept(world, message)
    assert world.db.uploads == {}  # refused like any other refusal: the session goes with its bytes


async def test_the_sweep_scans_the_shared_bytes_of_an_attachment_that_refers_to_another_upload() -> None:
    """One copy per content: bob's upload of the bytes alice stored first has no file of its own
    name; the sweep scans the content's file, and finds what is in it."""
    world, scanner = scanning_world(fail_open=True)
    message = await alices_message(world)
    bobs = await world.post("bob", message.conversation_id)
    scanner.down = True
    [first] = await world.attach(message, ("a.txt", eicar_txt()))
    [second] = await world.attach(bobs, ("b.txt", eicar_txt()))
    assert second.stored_as == first.filename != second.filename  # the premise: shared bytes

    scanner.down = False
    report = await world.sweep()

    assert (report.scanned, report.infected) == (0, 2)
    assert world.db.attachments == {}
    assert world.files.files == {}
