"""Range and conditional-request rules of RFC 9110 for serving one stored file, as pure functions.

`decide(...)` turns the request's Range, If-Range, If-None-Match and If-Modified-Since into what to
answer: 200 whole, 206 one slice, 304 or 416. Only a single byte range is ever served; several, or a
header that does not parse, is ignored (the whole file, 200), so there is never a multipart answer.
Nothing here raises on what a client sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from enum import Enum

_RANGE = re.compile(r"bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)", re.IGNORECASE)
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)')
# Beyond this many digits a position is larger than any file; int() would also refuse ~4300 digits.
_MAX_DIGITS = 18
_HUGE = 10**_MAX_DIGITS


class Unsatisfiable(Enum):
    """The one range asked for starts past the end: 416 with `Content-Range: bytes */size`."""

    RANGE = "unsatisfiable"


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # exclusive

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


@dataclass(frozen=True, slots=True)
class Decision:
    status: int  # 200, 206, 304 or 416
    slice: ByteRange  # what the body holds (whole file for 200; empty for 304 and 416)


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else _HUGE


def parse_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """One byte range within `[0, size)`, Unsatisfiable, or None for "ignore it, send the whole"."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:  # several ranges, another unit, or garbage
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = _number(last)
        if suffix == 0 or size == 0:
            return Unsatisfiable.RANGE
        return ByteRange(max(0, size - suffix), size)
    start = _number(first)
    if last and _number(last) < start:
        return None  # inverted: invalid, so ignored
    if start >= size:
        return Unsatisfiable.RANGE
    end = min(_number(last) + 1, size) if last else size
    return ByteRange(start, end)


def entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """The `(weak, opaque-tag)` pairs of a list of entity tags, or None when it does not parse."""
    tags: list[tuple[bool, str]] = []
    position = 0
    text = header.strip()
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None or match.end() == position:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def none_match(if_none_match: str, etag: str) -> bool:
    """If-None-Match, weak comparison: `*` or any listed tag equal to ours, `W/` or not."""
    if if_none_match.strip() == "*":
        return True
    tags = entity_tags(if_none_match)
    return tags is not None and any(opaque == etag for _, opaque in tags)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" or an asctime date: both mean UTC in HTTP
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def range_still_valid(if_range: str, etag: str, last_modified: datetime) -> bool:
    """If-Range: the Range applies only if the client's validator is ours, compared strongly."""
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag  # a weak tag never matches strongly
    date = parse_http_date(value)
    return date is not None and date == _whole_seconds(last_modified)


def decide(
    *,
    size: int,
    etag: str,
    last_modified: datetime,
    range_header: str | None = None,
    if_range: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: str | None = None,
) -> Decision:
    """What to answer a GET or HEAD, in the order of RFC 9110 section 13.2.2."""
    whole = ByteRange(0, size)
    nothing = ByteRange(0, 0)
    if if_none_match is not None:
        if none_match(if_none_match, etag):
            return Decision(304, nothing)
    elif if_modified_since is not None:
        since = parse_http_date(if_modified_since)
        if since is not None and _whole_seconds(last_modified) <= since:
            return Decision(304, nothing)
    if if_range is not None and not range_still_valid(if_range, etag, last_modified):
        return Decision(200, whole)
    wanted = parse_range(range_header, size)
    if wanted is None:
        return Decision(200, whole)
    if wanted is Unsatisfiable.RANGE:
        return Decision(416, nothing)
    return Decision(206, wanted)
