"""Range and conditional-request rules: one range or none, 416 only past the end, 304 by validator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoints.http.ranges import (
    ByteRange,
    Decision,
    Unsatisfiable,
    decide,
    entity_tags,
    http_date,
    none_match,
    parse_http_date,
    parse_range,
    range_still_valid,
)

ETAG = '"abc123"'
MODIFIED = datetime(2024, 5, 1, 12, 30, 15, 987654, tzinfo=UTC)
MODIFIED_HTTP = "Wed, 01 May 2024 12:30:15 GMT"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 1)),
        ("bytes=0-99", ByteRange(0, 100)),
        ("bytes=10-19", ByteRange(10, 20)),
        ("bytes=90-500", ByteRange(90, 100)),  # clamped to the end
        ("bytes=95-", ByteRange(95, 100)),
        ("bytes=-10", ByteRange(90, 100)),
        ("bytes=-1000", ByteRange(0, 100)),  # a suffix longer than the file is the whole file
        ("Bytes = 5 - 6", ByteRange(5, 7)),  # the unit is case-insensitive
        ("bytes=99-99", ByteRange(99, 100)),
        ("bytes=0-" + "9" * 5000, ByteRange(0, 100)),  # more digits than int() would take
    ],
)
def test_one_range_is_a_slice(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=1000-1", "bytes=" + "9" * 5000 + "-"],
)
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    result = parse_range(header, 100)
    # "1000-1" is inverted: invalid, so ignored rather than refused
    assert result is (None if header == "bytes=1000-1" else Unsatisfiable.RANGE)


def test_any_range_of_an_empty_file_is_unsatisfiable() -> None:
    assert parse_range("bytes=0-", 0) is Unsatisfiable.RANGE
    assert parse_range("bytes=-5", 0) is Unsatisfiable.RANGE


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=",
        "bytes=-",
        "bytes=0-1,5-6",  # several ranges: never a multipart answer
        "bytes=0-1, 0-1, 0-1",
        "bytes=10-5",  # inverted
        "items=0-5",
        "bytes=+1-5",
        "bytes=1_0-20",  # int() would accept this
        "bytes=\u0661-5",  # an Arabic-Indic digit: int() would accept this too
        "bytes=0x10-20",
        "bytes 0-5",
        "bytes=0-5;",
    ],
)
def test_anything_else_is_ignored(header: str | None) -> None:
    assert parse_range(header, 100) is None


@given(size=st.integers(min_value=0, max_value=10**12), data=st.data())
def test_a_served_range_lies_in_the_file_and_says_so(size: int, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["closed", "open", "suffix"]))
    first = data.draw(st.integers(min_value=0, max_value=size + 10))
    if kind == "closed":
        last = data.draw(st.integers(min_value=first, max_value=size + 10))
        header = f"bytes={first}-{last}"
    elif kind == "open":
        header = f"bytes={first}-"
    else:
        header = f"bytes=-{data.draw(st.integers(min_value=0, max_value=size + 10))}"
    result = parse_range(header, size)
    if isinstance(result, ByteRange):
        assert 0 <= result.start < result.end <= size
        assert result.length == result.end - result.start
        assert result.content_range(size) == f"bytes {result.start}-{result.end - 1}/{size}"
        if kind != "suffix":
            assert result.start == first
    else:
        assert result is Unsatisfiable.RANGE
        assert size == 0 or (kind != "suffix" and first >= size) or header == "bytes=-0"


@given(header=st.text(), size=st.integers(min_value=0, max_value=10**9))
def test_garbage_never_raises(header: str, size: int) -> None:
    result = parse_range(header, size)
    assert result is None or result is Unsatisfiable.RANGE or 0 <= result.start < result.end <= size


@given(
    range_header=st.none() | st.text(),
    if_range=st.none() | st.text(),
    if_none_match=st.none() | st.text(),
    if_modified_since=st.none() | st.text(),
)
def test_decide_never_raises_on_any_headers(
    range_header: str | None, if_range: str | None, if_none_match: str | None, if_modified_since: str | None
) -> None:
    decision = decide(
        size=100,
        etag=ETAG,
        last_modified=MODIFIED,
        range_header=range_header,
        if_range=if_range,
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
    )
    assert decision.status in (200, 206, 304, 416)
    assert 0 <= decision.slice.start <= decision.slice.end <= 100


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc123"', True),
        ('W/"abc123"', True),  # If-None-Match compares weakly
        ('"x", "abc123"', True),
        ('"x",W/"abc123" ', True),
        ("*", True),
        ('"abc"', False),
        ("abc123", False),  # not quoted: not an entity tag
        ('"abc123', False),
        ("", False),
        ('"x",, junk', False),
    ],
)
def test_if_none_match(header: str, matches: bool) -> None:
    assert none_match(header, ETAG) is matches


def test_entity_tags_parse_a_list() -> None:
    assert entity_tags('W/"a", "b"') == [(True, '"a"'), (False, '"b"')]
    assert entity_tags('"a" "b"') is None


@pytest.mark.parametrize(
    ("if_range", "valid"),
    [
        (ETAG, True),
        ('W/"abc123"', False),  # If-Range compares strongly
        ('"other"', False),
        (MODIFIED_HTTP, True),
        ("Wed, 01 May 2024 12:30:14 GMT", False),
        ("Wed, 01 May 2024 12:30:16 GMT", False),  # only an exact date validates
        ("yesterday", False),
    ],
)
def test_if_range(if_range: str, valid: bool) -> None:
    assert range_still_valid(if_range, ETAG, MODIFIED) is valid


def test_http_dates_round_trip_at_whole_seconds() -> None:
    assert http_date(MODIFIED) == MODIFIED_HTTP
    assert http_date(MODIFIED.astimezone(UTC).astimezone()) == MODIFIED_HTTP
    assert parse_http_date(MODIFIED_HTTP) == MODIFIED.replace(microsecond=0)
    assert parse_http_date("Wednesday, 01-May-24 12:30:15 GMT") == MODIFIED.replace(microsecond=0)
    assert parse_http_date("Wed May  1 12:30:15 2024") == MODIFIED.replace(microsecond=0)
    assert parse_http_date("not a date") is None


def decision(**headers: str) -> Decision:
    return decide(size=100, etag=ETAG, last_modified=MODIFIED, **headers)


def test_precedence_of_the_conditions() -> None:
    later = http_date(MODIFIED + timedelta(hours=1))
    earlier = http_date(MODIFIED - timedelta(hours=1))
    assert decision().status == 200
    assert decision(if_none_match=ETAG, range_header="bytes=0-1").status == 304  # 304 before Range
    assert decision(if_modified_since=MODIFIED_HTTP).status == 304  # same second: not modified
    assert decision(if_modified_since=later).status == 304
    assert decision(if_modified_since=earlier).status == 200
    assert decision(if_modified_since="garbage").status == 200
    # If-None-Match present: If-Modified-Since is not looked at
    assert decision(if_none_match='"other"', if_modified_since=later).status == 200
    assert decision(range_header="bytes=0-9") == Decision(206, ByteRange(0, 10))
    assert decision(range_header="bytes=0-9", if_range=ETAG).status == 206
    assert decision(range_header="bytes=0-9", if_range='"stale"') == Decision(200, ByteRange(0, 100))
    assert decision(range_header="bytes=0-9", if_range=earlier).status == 200
    assert decision(range_header="bytes=100-") == Decision(416, ByteRange(0, 0))
    assert decision(range_header="bytes=0-1,3-4") == Decision(200, ByteRange(0, 100))
