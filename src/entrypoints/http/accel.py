"""ACCEL_REDIRECT_PREFIX: the service checks a download and decides its answer; nginx sends the bytes.

A GET that the service would answer 200 or 206 is answered instead with the same status and
headers, `Content-Length: 0`, no body, and `X-Accel-Redirect: <prefix>whole/<name>` (a 200) or
`<prefix>part/<name>` (a 206). nginx serves the file from an internal location of
deploy/nginx/chat-media.conf.template with sendfile. The client must receive what the service alone
would send, but nginx evaluates the request's headers again on its side. What nginx 1.22 was seen
to do (docs/deployment.md), and what follows here:

- Its range filter reads the client's Range and If-Range itself, and parses Range its own way: an
  inverted or garbled range is a 416 there and the whole file here, `bytes =0-9` the other way
  round, 19 digits a 416 there. So `whole/` turns ranges off (`max_ranges 0`): nginx sends the whole
  file whatever the client asked. `part/` serves one range, and is named only for a Range written
  as both read it alike (`bytes=a-b`, `bytes=a-`, `bytes=-n`, 18 digits at most), with no If-Range
  or one that is byte for byte our ETag or Last-Modified (nginx compares it with the ETag and
  Last-Modified the template copies from our answer).
- It answers If-Match and If-Unmodified-Since itself (412) where the service ignores them: a
  request with either is sent by the service, as it always was.
- HEAD, 304 and 416 carry no bytes: the service answers them itself, and nginx passes them on.

Only a request that came through the template is handed over: nginx sets `X-Sendfile-Type:
X-Accel-Redirect` on what it passes on (as Rack::Sendfile asks of its proxy), so a client or a
health check that reaches the service directly still gets the bytes, and so does every client
while the template is not deployed yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

WHOLE = "whole/"
PART = "part/"
_PLAIN_RANGE = re.compile(r"bytes=(?:[0-9]{1,18}-[0-9]{0,18}|-[0-9]{1,18})", re.IGNORECASE)
_NGINX_ANSWERS = ("if-match", "if-unmodified-since")
ASKED_BY = ("x-sendfile-type", "X-Accel-Redirect")  # the request header the template sets
# nginx keeps these of an X-Accel-Redirect answer on whatever it answers next, its 404 for a file
# gone from disk included; renamed, they reach the client through the template's add_header, which
# applies to a success alone.
KEPT_BY_NGINX = ("Content-Disposition", "Cache-Control", "Accept-Ranges")
RENAMED = "X-Served-"


@dataclass(frozen=True, slots=True)
class AccelRedirect:
    """Where nginx's internal locations for the stored files begin (ACCEL_REDIRECT_PREFIX)."""

    prefix: str

    def target(
        self,
        filename: str,
        *,
        method: str,
        status: int,
        fields: Callable[[str], list[str]],
        etag: str,
        last_modified: str,
    ) -> str | None:
        """The URI to hand to nginx for this answer, or None when the service sends it itself.
        `fields(name)` lists the values of a request header; `status` is the service's decision."""
        if method != "GET" or status not in (200, 206) or fields(ASKED_BY[0]) != [ASKED_BY[1]]:
            return None
        if any(fields(name) for name in _NGINX_ANSWERS):
            return None
        if status == 200:
            return f"{self.prefix}{WHOLE}{filename}"
        ranges, if_range = fields("range"), fields("if-range")
        if len(ranges) != 1 or not _PLAIN_RANGE.fullmatch(ranges[0]):
            return None
        if if_range and if_range not in ([etag], [last_modified]):
            return None
        return f"{self.prefix}{PART}{filename}"

    @staticmethod
    def renamed(headers: dict[str, str]) -> dict[str, str]:
        """The answer's headers with those nginx would keep under names of the template's own."""
        return {
            f"{RENAMED}{name}" if name in KEPT_BY_NGINX else name: value for name, value in headers.items()
        }
