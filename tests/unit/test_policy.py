"""The media policy with the real sniffer: what comes in, as what, and what never does."""

from __future__ import annotations

import io
import struct
import unicodedata
import uuid
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.sniffing import FiletypeSniffer
from domain.attachment import MediaKind, is_stored_name, stored_name
from domain.content_checks import body_check_for
from domain.errors import UnsupportedMediaType
from domain.policy import (
    ACCEPTED_SIGNATURES,
    MAX_DISPLAY_NAME,
    SNIFF_WINDOW,
    TEXT_CONTENT_TYPE,
    Admission,
    MediaPolicy,
    display_name,
    is_inline,
)
from tests import samples

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXPECTED = {
    "jpg": (MediaKind.IMAGE, "image/jpeg"),
    "jpeg": (MediaKind.IMAGE, "image/jpeg"),
    "png": (MediaKind.IMAGE, "image/png"),
    "gif": (MediaKind.IMAGE, "image/gif"),
    "webp": (MediaKind.IMAGE, "image/webp"),
    "bmp": (MediaKind.IMAGE, "image/bmp"),
    "heic": (MediaKind.IMAGE, "image/heic"),
    "heif": (MediaKind.IMAGE, "image/heif"),
    "pdf": (MediaKind.DOCUMENT, "application/pdf"),
    "doc": (MediaKind.DOCUMENT, "application/msword"),
    "docx": (MediaKind.DOCUMENT, DOCX),
    "txt": (MediaKind.DOCUMENT, TEXT_CONTENT_TYPE),
    "zip": (MediaKind.DOCUMENT, "application/zip"),
    "rar": (MediaKind.DOCUMENT, "application/x-rar-compressed"),
    "mp4": (MediaKind.VIDEO, "video/mp4"),
    "avi": (MediaKind.VIDEO, "video/x-msvideo"),
    "mov": (MediaKind.VIDEO, "video/quicktime"),
    "mkv": (MediaKind.VIDEO, "video/x-matroska"),
    "webm": (MediaKind.VIDEO, "video/webm"),
}

POLICY = MediaPolicy()
SNIFFER = FiletypeSniffer()


def receive(name: str, body: bytes, chunk_size: int = 4096) -> Admission:
    """What the upload does with a file: the name first, the first bytes, then the whole body."""
    POLICY.extension_of(name)
    admission = POLICY.admit(name, SNIFFER.sniff(body[:SNIFF_WINDOW]))
    check = body_check_for(admission.extension, admission.kind)
    for at in range(0, len(body), chunk_size):
        check.feed(body[at : at + chunk_size])
    check.finish()
    return admission


def zip_of(*names: str, seekable: bool = True) -> bytes:
    """A ZIP of these entries; unseekable output makes zipfile write data descriptors, as Java does."""
    buffer = io.BytesIO()

    class Unseekable(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            return buffer.write(data)

    with zipfile.ZipFile(buffer if seekable else Unseekable(), "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), b"<x/>" * 64)
    return buffer.getvalue()


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    box = major + bytes(4) + b"".join(compatible)
    return struct.pack(">I", 8 + len(box)) + b"ftyp" + box + b"\x00\x00\x00\x08free"


def test_the_expected_table_covers_every_extension_the_policy_knows() -> None:
    assert set(EXPECTED) == set(ACCEPTED_SIGNATURES) == set(POLICY.kinds)


@pytest.mark.parametrize("ext", sorted(EXPECTED))
def test_every_allowed_extension_is_admitted_from_its_own_bytes(ext: str) -> None:
    admission = receive(f"holiday.{ext}", samples.sample(ext))

    assert admission == Admission(extension=ext, kind=EXPECTED[ext][0], content_type=EXPECTED[ext][1])


@pytest.mark.parametrize("ext", sorted(EXPECTED))
@pytest.mark.parametrize("extra", [1, 2, 257, 70_001])
def test_a_padded_sample_is_exactly_its_size_and_still_admitted(ext: str, extra: int) -> None:
    size = len(samples.sample(ext)) + extra
    body = samples.sample(ext, size=size)

    assert len(body) == size
    assert body == samples.sample(ext, size=size)
    assert receive(f"big.{ext}", body, chunk_size=1000).content_type == EXPECTED[ext][1]


def test_a_sample_smaller_than_its_format_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="smallest"):
        samples.sample("png", size=10)


def test_the_extension_is_matched_whatever_its_case() -> None:
    assert receive("PHOTO.JPG", samples.sample("jpg")).extension == "jpg"


@pytest.mark.parametrize(
    ("claimed", "actual"),
    [
        ("mov", "mp4"),  # one ISO media family
        ("mp4", "mov"),
        ("mkv", "webm"),  # WebM is a Matroska profile
    ],
)
def test_siblings_of_one_container_may_stand_for_each_other(claimed: str, actual: str) -> None:
    assert receive(f"clip.{claimed}", samples.sample(actual)).extension == claimed


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("page.jpg", samples.html_page()),
        ("run.jpg", samples.elf_executable()),
        ("setup.jpg", samples.windows_exe()),
        ("setup.doc", samples.windows_exe()),
        ("run.zip", samples.elf_executable()),
        ("icon.png", samples.svg_image()),
        ("doc.pdf", samples.sample("png")),
        ("photo.png", samples.sample("jpg")),
        ("photo.gif", samples.sample("webp")),
        ("photo.webp", samples.sample("avi")),  # both RIFF
        ("letter.docx", samples.sample("zip")),
        ("bundle.zip", samples.sample("docx")),
        ("letter.doc", samples.sample("docx")),
        ("letter.docx", samples.sample("doc")),
        ("bundle.rar", samples.sample("zip")),
        ("clip.mp4", samples.sample("webm")),
        ("clip.webm", samples.sample("mkv")),
        ("clip.avi", samples.sample("mp4")),
        ("clip.mov", samples.sample("avi")),
        ("notes.txt", samples.sample("pdf")),
        ("notes.txt", samples.sample("zip")),
        ("notes.txt", samples.elf_executable()),
        ("notes.txt", samples.windows_exe()),
        ("notes.txt", samples.html_page()),
        ("notes.txt", samples.svg_image()),
        ("notes.txt", samples.text_with_nul()),
        ("gifar.gif", samples.gif_with_script()),
        ("zipped.png", samples.png_with_zip_appended()),
    ],
)
def test_content_that_is_not_what_its_name_says_is_refused(name: str, body: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        receive(name, body)


@pytest.mark.parametrize("body", [samples.html_page(), samples.svg_image(), b"", b"BM"])
def test_without_a_signature_only_text_is_possible(body: bytes) -> None:
    for ext in sorted(set(EXPECTED) - {"txt"}):
        with pytest.raises(UnsupportedMediaType):
            POLICY.admit(f"file.{ext}", SNIFFER.sniff(body))


@pytest.mark.parametrize("body", [samples.elf_executable(), samples.windows_exe()])
def test_an_executable_maps_to_no_accepted_type(body: bytes) -> None:
    sniffed = SNIFFER.sniff(body)

    assert sniffed is not None
    assert all(sniffed not in accepted for accepted in ACCEPTED_SIGNATURES.values())


# ---- where the sniffer corrects filetype -------------------------------------------------------


OFFICE_PARTS = ("docProps/app.xml", "docProps/core.xml", "customXml/item1.xml", "customXml/item2.xml")


@pytest.mark.parametrize(
    "body",
    [
        # filetype looks for word/ among the first five entries only
        zip_of("[Content_Types].xml", "_rels/.rels", *OFFICE_PARTS, "word/document.xml"),
        # LibreOffice's order: the content types last
        zip_of("_rels/.rels", "docProps/app.xml", "word/document.xml", "[Content_Types].xml"),
        # sizes in data descriptors, as Java (Apache POI) writes them
        zip_of("[Content_Types].xml", "_rels/.rels", *OFFICE_PARTS, "word/document.xml", seekable=False),
    ],
    ids=["word-entry-seventh", "libreoffice-order", "data-descriptors"],
)
def test_a_word_package_is_a_docx_wherever_its_word_entries_sit(body: bytes) -> None:
    assert SNIFFER.sniff(body[:SNIFF_WINDOW]) == DOCX


def test_a_zip_with_a_word_folder_but_no_package_parts_is_a_zip() -> None:
    body = zip_of("word/notes.txt", "readme.txt")

    assert SNIFFER.sniff(body) == "application/zip"
    assert receive("notes.zip", body).content_type == "application/zip"
    with pytest.raises(UnsupportedMediaType):
        receive("notes.docx", body)


def test_a_spreadsheet_package_is_neither_a_docx_nor_a_zip() -> None:
    body = zip_of("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml")

    for name in ("book.docx", "book.zip"):
        with pytest.raises(UnsupportedMediaType):
            receive(name, body)


def test_a_word_file_whose_first_sector_is_not_its_text_is_still_a_doc() -> None:
    doc = samples.sample("doc")
    body = doc[:512] + bytes(4) + doc[516:]  # no FIB where filetype looks

    assert receive("old.doc", body).content_type == "application/msword"


def test_another_compound_file_is_named_but_is_no_doc_and_no_text() -> None:
    doc = samples.sample("doc")
    body = (doc[:512] + bytes(4) + doc[516:]).replace(
        "WordDocument".encode("utf-16-le"), "Workbook\0\0\0\0".encode("utf-16-le")
    )

    assert SNIFFER.sniff(body) not in (None, "application/msword")
    for name in ("sheet.doc", "sheet.txt"):
        with pytest.raises(UnsupportedMediaType):
            receive(name, body)


def test_text_that_starts_with_bm_is_text_and_no_bitmap() -> None:
    body = b"BMW drivers rarely signal.\n"

    assert receive("cars.txt", body).content_type == TEXT_CONTENT_TYPE
    with pytest.raises(UnsupportedMediaType):
        receive("cars.bmp", body)


@pytest.mark.parametrize("brands", [(b"iso5", b"iso6", b"dash"), (b"avc1", b"iso2"), (b"M4V ", b"M4VP")])
def test_iso_media_with_brands_filetype_does_not_list_is_mp4(brands: tuple[bytes, ...]) -> None:
    assert SNIFFER.sniff(ftyp(*brands)) == "video/mp4"


@pytest.mark.parametrize("brands", [(b"M4A ", b"isom"), (b"heic", b"mif1"), (b"avif", b"mif1")])
def test_iso_audio_and_still_images_are_no_video(brands: tuple[bytes, ...]) -> None:
    with pytest.raises(UnsupportedMediaType):
        POLICY.admit("clip.mp4", SNIFFER.sniff(ftyp(*brands)))


@pytest.mark.parametrize(
    ("brands", "sniffed"),
    [
        ((b"heic", b"mif1", b"heic"), "image/heic"),  # an iPhone's
        ((b"heix", b"mif1", b"heix"), "image/heic"),  # 10-bit, which filetype does not know
        ((b"mif1", b"mif1", b"heic"), "image/heic"),
        ((b"msf1", b"msf1", b"hevc"), "image/heic"),  # an image sequence (a burst, a Live Photo)
        ((b"mif1", b"mif1", b"miaf"), "image/heif"),
    ],
)
def test_heif_is_told_by_its_brands(brands: tuple[bytes, ...], sniffed: str) -> None:
    assert SNIFFER.sniff(ftyp(*brands)) == sniffed
    for name in ("IMG_0001.HEIC", "photo.heif"):
        assert POLICY.admit(name, sniffed).content_type == sniffed


@pytest.mark.parametrize("brands", [(b"avif", b"mif1", b"miaf"), (b"mif1", b"avif"), (b"isom", b"mp41")])
def test_avif_and_video_are_no_heif(brands: tuple[bytes, ...]) -> None:
    with pytest.raises(UnsupportedMediaType):
        POLICY.admit("IMG_0001.heic", SNIFFER.sniff(ftyp(*brands)))


def test_both_rar_versions_and_both_spellings_are_rar(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SNIFFER.sniff(b"Rar!\x1a\x07\x01\x00" + bytes(40)) == "application/x-rar-compressed"

    monkeypatch.setattr("filetype.guess_mime", lambda head: "application/vnd.rar")
    assert SNIFFER.sniff(b"Rar!\x1a\x07\x01\x00") == "application/x-rar-compressed"


# ---- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["icon.svg", "page.html", "page.htm", "setup.exe", "photo.jpg.exe", "noext", ".png", "  .png", "photo.",
     "archive.tar.gz", "script.js", ""],
)  # fmt: skip
def test_a_disallowed_name_is_refused_before_any_byte(name: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="not an allowed file type"):
        POLICY.extension_of(name)


@pytest.mark.parametrize(
    ("name", "ext"),
    [("Photo.JPG", "jpg"), ("my.photo.png", "png"), ("backup.tar.zip", "zip"), ("x.WebM", "webm")],
)
def test_the_extension_is_the_last_one_lower_cased(name: str, ext: str) -> None:
    assert POLICY.extension_of(name) == ext


def test_a_configured_policy_knows_only_its_lists() -> None:
    policy = MediaPolicy.from_lists(
        max_upload_size=1, images=[".PNG", " jpg "], documents=[], videos=["webm"]
    )

    assert dict(policy.kinds) == {"png": MediaKind.IMAGE, "jpg": MediaKind.IMAGE, "webm": MediaKind.VIDEO}
    assert policy.max_upload_size == 1
    with pytest.raises(UnsupportedMediaType):
        policy.extension_of("report.pdf")


@pytest.mark.parametrize(
    ("lists", "message"),
    [
        ({"images": ["png", "svg"]}, "'svg' is not an extension"),
        ({"documents": ["exe"]}, "'exe' is not an extension"),
        ({"images": ["png"], "documents": ["PNG"]}, "listed under two kinds"),
        ({"max_upload_size": 0}, "at least one byte"),
        ({"max_upload_size": -1}, "at least one byte"),
    ],
)
def test_a_policy_that_cannot_be_enforced_is_refused(lists: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MediaPolicy.from_lists(**lists)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ext", "inline"), [("jpg", True), ("png", True), ("mp4", True), ("webm", True), ("pdf", False),
                        ("txt", False), ("bmp", False), ("zip", False), ("avi", False)],
)  # fmt: skip
def test_only_what_browsers_render_inertly_is_inline(ext: str, inline: bool) -> None:
    assert is_inline(ext) is inline


@pytest.mark.parametrize(
    ("original", "ext", "shown"),
    [
        ("../../etc/passwd.png", "png", "passwd.png"),
        ("C:\\Users\\me\\photo.jpg", "jpg", "photo.jpg"),
        ("invoice\u202efdp.png", "png", "invoicefdp.png"),
        ("\u2066evil\u2069.pdf", "pdf", "evil.pdf"),
        ("a\x00b\x1fc\x7f.txt", "txt", "abc.txt"),
        ('say "hi".txt', "txt", "say hi.txt"),
        ("photo", "png", "photo.png"),
        ("", "png", "file.png"),
        ("....", "png", "file.png"),
        ("dir/", "txt", "file.txt"),
        ("PHOTO.JPG", "jpg", "PHOTO.JPG"),
        ("re\u0301sume\u0301.pdf", "pdf", "résumé.pdf"),
    ],
)
def test_a_display_name_is_cleaned(original: str, ext: str, shown: str) -> None:
    assert display_name(original, ext) == shown


@pytest.mark.parametrize("length", [MAX_DISPLAY_NAME + 1, 300, 10_000])
def test_a_long_display_name_is_cut_keeping_its_extension(length: int) -> None:
    shown = display_name("x" * (length - 4) + ".pdf", "pdf")

    assert shown == "x" * (MAX_DISPLAY_NAME - 4) + ".pdf"


def test_a_display_name_of_the_longest_length_is_kept_whole() -> None:
    original = "y" * (MAX_DISPLAY_NAME - 4) + ".pdf"

    assert display_name(original, "pdf") == original


@given(original=st.text(max_size=400), ext=st.sampled_from(sorted(EXPECTED)))
def test_a_display_name_is_always_safe_to_show(original: str, ext: str) -> None:
    shown = display_name(original, ext)

    assert len(shown) <= MAX_DISPLAY_NAME
    assert shown.lower().endswith(f".{ext}")
    assert len(shown) > len(ext) + 1
    assert not set(shown) & {"/", "\\", "\x00", '"'}
    assert all(unicodedata.category(ch)[0] != "C" for ch in shown)  # controls, bidi formats


@given(attachment_id=st.uuids(version=4), ext=st.sampled_from(sorted(EXPECTED)))
def test_every_stored_name_is_recognised(attachment_id: uuid.UUID, ext: str) -> None:
    assert is_stored_name(stored_name(attachment_id, ext))


VALID = stored_name(uuid.UUID("3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b"), "png")


@pytest.mark.parametrize(
    "name",
    [
        "../x.png",
        f"../{VALID}",
        f"%2e%2e%2f{VALID}",
        f"..%2f{VALID}",
        f"/{VALID}",
        f"{VALID}/..",
        f"{VALID}\x00.txt",
        f"\x00{VALID}",
        f"{VALID}\n",
        VALID.upper(),
        VALID.replace(".png", ".PNG"),
        VALID.replace(".png", ".toolong"),
        VALID.replace(".png", ""),
        stored_name(uuid.uuid1(), "png"),
        stored_name(uuid.UUID(int=0), "png"),
        "",
    ],
)
def test_anything_else_is_no_stored_name(name: str) -> None:
    assert is_stored_name(VALID)
    assert not is_stored_name(name)
