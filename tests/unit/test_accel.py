"""Which answers the service hands to nginx (X-Accel-Redirect), and which it keeps: only those nginx
is known to send exactly as the service decided (tests/integration/test_accel_redirect.py shows
that against the real nginx)."""

from __future__ import annotations

import pytest

from entrypoints.http.accel import AccelRedirect

NAME = "0b0c2f52-8a4b-4bd4-9a8c-2a3f1d3c6f10.mp4"
ETAG = '"' + "ab" * 32 + '"'
LAST_MODIFIED = "Tue, 01 Dec 2026 07:44:31 GMT"
ACCEL = AccelRedirect("/_stored/")


def target(status: int, method: str = "GET", **headers: str | list[str]) -> str | None:
    headers = {"X_Sendfile_Type": "X-Accel-Redirect", **headers}
    asked = {k.lower().replace("_", "-"): v if isinstance(v, list) else [v] for k, v in headers.items()}
    return ACCEL.target(
        NAME,
        method=method,
        status=status,
        fields=lambda name: asked.get(name, []),
        etag=ETAG,
        last_modified=LAST_MODIFIED,
    )


def test_a_whole_file_goes_to_the_location_without_ranges_whatever_was_asked() -> None:
    for headers in (
        {},
        {"Range": "bytes=0-1,5-6"},
        {"Range": "bytes=500-100"},
        {"Range": ["bytes=0-9", "bytes=20-29"]},
        {"Range": "bytes=0-9", "If_Range": '"stale"'},
        {"If_None_Match": '"stale"', "If_Modified_Since": LAST_MODIFIED},
    ):
        assert target(200, **headers) == f"/_stored/whole/{NAME}", headers


@pytest.mark.parametrize(
    "header", ["bytes=0-9", "bytes=0-", "bytes=-500", "Bytes=7-7", "bytes=000-999999999999999999"]
)
def test_a_range_nginx_reads_alike_goes_to_the_location_with_one_range(header: str) -> None:
    assert target(206, Range=header) == f"/_stored/part/{NAME}"
    assert target(206, Range=header, If_Range=ETAG) == f"/_stored/part/{NAME}"
    assert target(206, Range=header, If_Range=LAST_MODIFIED) == f"/_stored/part/{NAME}"


@pytest.mark.parametrize(
    "header",
    [
        "bytes =0-9",
        "bytes= 0-9",
        "bytes=0 -9",
        "bytes=0-9 ",
        "bytes=0-9999999999999999999",  # 19 digits: past nginx's off_t
        "bytes=0-9,",
        "bytes=-",
    ],
)
def test_a_range_nginx_could_read_otherwise_stays_with_the_service(header: str) -> None:
    assert target(206, Range=header) is None


def test_an_if_range_not_written_as_our_own_validator_stays_with_the_service() -> None:
    for if_range in ("Tue, 01 Dec 2026 08:44:31 +0100", "Tuesday, 01-Dec-26 07:44:31 GMT", f" {ETAG}"):
        assert target(206, Range="bytes=0-9", If_Range=if_range) is None
    assert target(206, Range="bytes=0-9", If_Range=[ETAG, ETAG]) is None


def test_preconditions_nginx_would_answer_itself_stay_with_the_service() -> None:
    for status in (200, 206):
        assert target(status, Range="bytes=0-9", If_Match="*") is None
        assert target(status, Range="bytes=0-9", If_Unmodified_Since=LAST_MODIFIED) is None


def test_answers_without_bytes_and_head_stay_with_the_service() -> None:
    assert target(304, If_None_Match=ETAG) is None
    assert target(416, Range="bytes=999999999-") is None
    assert target(200, method="HEAD") is None
    assert target(206, method="HEAD", Range="bytes=0-9") is None


def test_a_request_that_did_not_come_through_nginx_gets_the_bytes_from_the_service() -> None:
    for sent_by in ([], ["X-Sendfile"], ["x-accel-redirect"], ["X-Accel-Redirect", "X-Accel-Redirect"]):
        assert target(200, X_Sendfile_Type=sent_by) is None, sent_by
        assert target(206, X_Sendfile_Type=sent_by, Range="bytes=0-9") is None, sent_by
