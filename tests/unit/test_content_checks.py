"""The body checks, fed the way an upload feeds them: in chunks that fall anywhere."""

from __future__ import annotations

import pytest

from domain.attachment import MediaKind
from domain.content_checks import (
    MAX_LEADING_BLANK,
    BodyCheck,
    ImagePolyglotCheck,
    Utf8TextCheck,
    body_check_for,
)
from domain.errors import UnsupportedMediaType
from tests import samples

TEXT = "Grüße aus Köln — 日本語のテキスト, emoji 🎉.\n".encode()


def feed(check: BodyCheck, *chunks: bytes) -> None:
    for chunk in chunks:
        check.feed(chunk)
    check.finish()


def every_split(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(body[:at], body[at:]) for at in range(1, len(body))]


@pytest.mark.parametrize(("head", "tail"), every_split(TEXT))
def test_utf8_text_cut_anywhere_even_mid_character_passes(head: bytes, tail: bytes) -> None:
    feed(Utf8TextCheck(), head, tail)


def test_utf8_text_fed_a_byte_at_a_time_passes() -> None:
    feed(Utf8TextCheck(), *(TEXT[at : at + 1] for at in range(len(TEXT))))


def test_a_byte_order_mark_is_allowed() -> None:
    feed(Utf8TextCheck(), b"\xef\xbb\xbf" + TEXT)


def test_markup_in_the_middle_of_text_is_just_text() -> None:
    feed(Utf8TextCheck(), b"To embed a script, write <script> in the page.\n")


@pytest.mark.parametrize(
    "body",
    [b"caf\xe9\n", b"\xffhello", b"ok \xed\xa0\x80 surrogate", b"\xc0\xaf"],
)
def test_text_that_is_not_utf8_fails(body: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="UTF-8"):
        feed(Utf8TextCheck(), body)


def test_text_that_ends_mid_character_fails_at_the_end() -> None:
    check = Utf8TextCheck()
    check.feed("naïve café".encode()[:-1])

    with pytest.raises(UnsupportedMediaType, match="mid-character"):
        check.finish()


@pytest.mark.parametrize("at", [0, 5, 4096, 100_000])
def test_a_nul_byte_anywhere_fails(at: int) -> None:
    body = b"a" * at + b"\x00" + b"b" * 10

    with pytest.raises(UnsupportedMediaType, match="NUL"):
        feed(Utf8TextCheck(), *(body[i : i + 4096] for i in range(0, len(body), 4096)))


@pytest.mark.parametrize(
    "body",
    [
        samples.html_page(),
        samples.svg_image(),
        b"  \n\t<html lang=en><body>hi</body></html>",
        b"\xef\xbb\xbf<!doctype HTML><p>hi",
        b"<SCRIPT>alert(1)</SCRIPT>",
        b"<iframe src=//evil.example>",
        b"<svg onload=alert(1)>",
    ],
)
def test_a_web_page_named_txt_fails(body: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="markup"):
        feed(Utf8TextCheck(), body)


@pytest.mark.parametrize(("head", "tail"), every_split(b"<!DOCTYPE html>"))
def test_a_web_page_cut_in_its_first_tag_still_fails(head: bytes, tail: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="markup"):
        feed(Utf8TextCheck(), head, tail + b"<html><body>hi</body></html>")


def test_a_web_page_after_a_screen_of_blank_lines_fails() -> None:
    with pytest.raises(UnsupportedMediaType):
        feed(Utf8TextCheck(), b"\n" * 64 + samples.html_page())


@pytest.mark.parametrize(
    "blank",
    [
        b" " * 63,
        b"\n" * 65,
        b"\r\n" * 700,
        b" \t\x0c\x0b\r\n" * 600,
        b"\xef\xbb\xbf" + b"\n" * 100 + b"\xef\xbb\xbf\n",  # byte order marks among the blank
        b"\n" * MAX_LEADING_BLANK,  # as much as is allowed
    ],
    ids=["spaces", "newlines", "crlf", "every-kind", "byte-order-marks", "up-to-the-bound"],
)
@pytest.mark.parametrize("chunk_size", [1, 5, 64, 4096, 1 << 16])
def test_blank_space_up_to_the_bound_does_not_hide_markup(blank: bytes, chunk_size: int) -> None:
    body = blank + samples.html_page()

    with pytest.raises(UnsupportedMediaType, match="markup"):
        feed(Utf8TextCheck(), *(body[at : at + chunk_size] for at in range(0, len(body), chunk_size)))


PAGE_AFTER_BLANKS = (
    b"\xef\xbb\xbf \n\t\n" + b"\xef\xbb\xbf\r\n" + b"<!DOCTYPE html><html><body>hi</body></html>"
)


@pytest.mark.parametrize(("head", "tail"), every_split(PAGE_AFTER_BLANKS))
def test_a_web_page_after_blank_space_cut_anywhere_still_fails(head: bytes, tail: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="markup"):
        feed(Utf8TextCheck(), head, tail)


@pytest.mark.parametrize("chunk_size", [1, 100, 4097, 1 << 16])
def test_more_blank_space_than_the_bound_fails_whatever_follows(chunk_size: int) -> None:
    for after in (samples.html_page(), TEXT, b""):
        body = b"\n" * (MAX_LEADING_BLANK + 1) + after
        with pytest.raises(UnsupportedMediaType, match="blank space"):
            feed(Utf8TextCheck(), *(body[at : at + chunk_size] for at in range(0, len(body), chunk_size)))


@pytest.mark.parametrize(
    "body",
    [
        b"\n" * 64 + TEXT,
        b"\n" * MAX_LEADING_BLANK + TEXT,
        b" \n\t" * 100,  # nothing but blank space
        b"\n" * 100 + b"Write <html> to begin a page.\n",  # markup after text is text
    ],
    ids=["text-after-blanks", "text-after-the-bound", "only-blanks", "markup-after-text"],
)
@pytest.mark.parametrize("chunk_size", [1, 7, 1 << 16])
def test_text_after_blank_space_passes(body: bytes, chunk_size: int) -> None:
    feed(Utf8TextCheck(), *(body[at : at + chunk_size] for at in range(0, len(body), chunk_size)))


def test_half_a_byte_order_mark_at_the_end_is_no_markup_but_no_utf8_either() -> None:
    with pytest.raises(UnsupportedMediaType, match="mid-character"):
        feed(Utf8TextCheck(), b"\n\n", b"\xef\xbb")


@pytest.mark.parametrize("ext", ["jpg", "png", "gif", "webp", "bmp"])
@pytest.mark.parametrize("chunk_size", [1, 23, 4096])
def test_a_plain_image_passes_whatever_its_chunks(ext: str, chunk_size: int) -> None:
    body = samples.sample(ext, size=len(samples.sample(ext)) + 3000)

    feed(ImagePolyglotCheck(), *(body[at : at + chunk_size] for at in range(0, len(body), chunk_size)))


@pytest.mark.parametrize(
    "marker", [b"<script", b"<ScRiPt", b"<!DOCTYPE html", b"<html>", b"<?php", b"<svg xmlns"]
)
def test_markup_inside_an_image_fails(marker: bytes) -> None:
    gif = samples.sample("gif")
    body = gif[:-1] + marker + gif[-1:]

    with pytest.raises(UnsupportedMediaType, match="markup or script"):
        feed(ImagePolyglotCheck(), body)


def test_the_script_gif_fails() -> None:
    with pytest.raises(UnsupportedMediaType, match="markup or script"):
        feed(ImagePolyglotCheck(), samples.gif_with_script())


@pytest.mark.parametrize("cut", range(1, len(b"<script")))
def test_a_script_marker_cut_across_two_chunks_is_still_caught(cut: int) -> None:
    body = samples.gif_with_script()
    at = body.index(b"<script") + cut

    with pytest.raises(UnsupportedMediaType, match="markup or script"):
        feed(ImagePolyglotCheck(), body[:at], body[at:])


def test_a_script_marker_cut_after_a_large_chunk_is_still_caught() -> None:
    gif = samples.sample("gif", size=300_000)
    body = gif + b"<scr" + b"ipt>"
    cut = len(gif) + 2

    with pytest.raises(UnsupportedMediaType, match="markup or script"):
        feed(ImagePolyglotCheck(), body[: cut - 100_000], body[cut - 100_000 : cut], body[cut:])


@pytest.mark.parametrize("chunk_size", [1, 7, 22, 4096, 1 << 20])
def test_an_image_with_a_zip_appended_fails(chunk_size: int) -> None:
    body = samples.png_with_zip_appended()

    with pytest.raises(UnsupportedMediaType, match="archive appended"):
        feed(ImagePolyglotCheck(), *(body[at : at + chunk_size] for at in range(0, len(body), chunk_size)))


def test_an_image_with_a_zip_appended_after_a_large_image_fails() -> None:
    body = samples.sample("png", size=3 * 1024 * 1024) + samples.sample("zip", size=70_000)

    with pytest.raises(UnsupportedMediaType, match="archive appended"):
        feed(ImagePolyglotCheck(), *(body[at : at + 65_536] for at in range(0, len(body), 65_536)))


def test_an_archive_signature_that_does_not_end_the_file_is_no_archive() -> None:
    # An end-of-central-directory record whose comment length does not reach the end of the file.
    body = samples.sample("png") + b"PK\x05\x06" + bytes(16) + b"\x05\x00" + b"ab"

    feed(ImagePolyglotCheck(), body)


def test_an_image_with_a_zip_and_one_more_byte_appended_fails() -> None:
    with pytest.raises(UnsupportedMediaType):
        feed(ImagePolyglotCheck(), samples.png_with_zip_appended() + b"\n")


@pytest.mark.parametrize(
    ("ext", "kind", "refused"),
    [
        ("txt", MediaKind.DOCUMENT, samples.text_with_nul()),
        ("png", MediaKind.IMAGE, samples.gif_with_script()),
        ("jpg", MediaKind.IMAGE, samples.png_with_zip_appended()),
    ],
)
def test_each_kind_gets_its_own_check(ext: str, kind: MediaKind, refused: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        feed(body_check_for(ext, kind), refused)


@pytest.mark.parametrize(("ext", "kind"), [("zip", MediaKind.DOCUMENT), ("mp4", MediaKind.VIDEO)])
def test_archives_and_videos_are_not_read_as_text_or_images(ext: str, kind: MediaKind) -> None:
    feed(body_check_for(ext, kind), samples.text_with_nul(), samples.png_with_zip_appended())
