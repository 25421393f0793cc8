"""Media URLs a browser can load: a download path signed for one viewer until an expiry.

`<img>`, `<video>` and `<a download>` cannot send an Authorization header, so every attachment in
an HTTP answer carries its paths with `?exp=<unix seconds>&u=<viewer>&sig=<HMAC-SHA256>`. The MAC
binds the viewer, the exact path (so the file, or its thumbnail) and the expiry, under a key of its
own (MEDIA_URL_SECRET), never the JWT's. It only says who asks: the bearer middleware turns a valid
one into that viewer, and the route checks access as for a bearer token, on every use, so leaving
a group or deleting the file closes the URL at once. Anything wrong with it (tampered, truncated,
repeated, expired, another path's or another key's) is answered as an unknown file is.

The expiry is rounded up to a whole `window`, so one viewer gets the same URL for a while and the
browser's cache hits: a URL works at least `ttl` and less than `ttl + window` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

MAX_TTL = 7 * 86_400
MAX_WINDOW = 3_600
_PARAMS = ("exp", "u", "sig")
_VERSION = b"chat-media-url-v1"
_EXPIRY = re.compile(r"[1-9][0-9]{0,11}")
# Verified URLs remembered, as JwtVerifier remembers tokens: a page's thumbnails and a video's
# Range requests come back with the same URL, and a hit costs a lookup instead of a MAC.
VERIFIED_CACHE = 10_000


@dataclass(frozen=True, slots=True)
class SignedGrant:
    """What a request with a valid signed URL was granted: its viewer, until `expires_at`."""

    viewer: str
    expires_at: int

    def max_age(self, now: float, ceiling: int) -> int:
        """Seconds a browser may keep the answer: never past the URL's own expiry."""
        return max(0, min(ceiling, self.expires_at - int(now)))


class MediaLinks:
    """The paths of a viewer's media, as an answer to that viewer carries them."""

    expires_at: datetime | None = None  # None: the plain paths, which need the bearer header

    def link(self, path: str) -> str:
        return path


UNSIGNED = MediaLinks()
"""The plain paths: what WebSocket frames carry, rendered once for every member."""


class _SignedLinks(MediaLinks):
    def __init__(self, signer: MediaUrlSigner, viewer: str, expires: int) -> None:
        self._signer = signer
        self._viewer = viewer
        self._expires = expires
        self.expires_at = datetime.fromtimestamp(expires, UTC)

    def link(self, path: str) -> str:
        return f"{path}?{self._signer.query(self._viewer, path, self._expires)}"


class MediaUrlSigner:
    def __init__(
        self,
        secret: str,
        *,
        previous: str | None = None,
        ttl: int = 3_600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= ttl <= MAX_TTL:
            raise ValueError(f"a media URL's lifetime must be 1 to {MAX_TTL} seconds, not {ttl}")
        self._key = secret.encode()
        # Verified while the URLs it signed live: each carries its own expiry, so a rotated-out key
        # opens nothing past the last expiry it signed.
        self._keys = (self._key,) if previous is None else (self._key, previous.encode())
        self._ttl = ttl
        self._window = min(MAX_WINDOW, ttl)
        self._clock = clock
        self._verified: OrderedDict[tuple[str, str, str, str], SignedGrant] = OrderedDict()

    def for_viewer(self, viewer: str) -> MediaLinks:
        now = int(self._clock())
        expires = -(-(now + self._ttl) // self._window) * self._window  # rounded up to the window
        return _SignedLinks(self, viewer, expires)

    def query(self, viewer: str, path: str, expires: int) -> str:
        return f"exp={expires}&u={quote(viewer, safe='')}&sig={_mac(self._key, viewer, path, expires)}"

    def verify(self, path: str, params: Callable[[str], Sequence[str]]) -> SignedGrant | None:
        """The grant of a request for `path` whose query's values are `params(name)`, or None for
        anything but exactly one of each parameter, unexpired, under one of our keys."""
        values = [params(name) for name in _PARAMS]
        if any(len(v) != 1 for v in values):
            return None
        (exp,), (viewer,), (sig,) = values
        remembered = (path, exp, viewer, sig)  # only ever a URL that verified: forgeries meet the MAC
        known = self._verified.get(remembered)
        if known is not None:
            if known.expires_at <= self._clock():
                del self._verified[remembered]
                return None
            self._verified.move_to_end(remembered)
            return known
        # The one spelling `query` writes: "0123" or "١٢٣" would carry the same MAC as "123".
        if not _EXPIRY.fullmatch(exp) or not viewer or len(viewer) > 255:
            return None
        expires = int(exp)
        if expires <= self._clock():
            return None
        given = sig.encode("utf-8", "replace")
        # Every key is tried, so the time taken does not tell which one nearly matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(_mac(key, viewer, path, expires).encode(), given)
        if not matched:
            return None
        grant = SignedGrant(viewer=viewer, expires_at=expires)
        self._verified[remembered] = grant
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return grant

    @staticmethod
    def carries_signature(params: Callable[[str], Sequence[str]]) -> bool:
        """Whether a query tries to be a signed URL (any of its parameters present)."""
        return any(params(name) for name in _PARAMS)


def _mac(key: bytes, viewer: str, path: str, expires: int) -> str:
    # Each field's length goes before it: no viewer id or path can shift bytes into another field.
    fields = [viewer.encode(), path.encode(), str(expires).encode()]
    message = _VERSION + b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
