"""How long a request body may take: an idle timeout and a minimum data rate, around ASGI `receive`.

The idle timeout cuts off a body that stops coming; the minimum rate cuts off one that keeps
trickling in (a few bytes just often enough never to be idle), the way Kestrel's
`MinRequestBodyDataRate` does: once a grace period has passed, the bytes received divided by the
time spent waiting for them must stay at or above `min_rate`. Only the time spent inside `receive`
counts, as in Kestrel: while the service writes a batch to disk or S3 the client is held back by the
service, not slow. Both limits are one deadline on each `receive` (no timer of their own, no thread):
the wait may last until the idle timeout, or until the average would fall below the rate, whichever
comes first. A body cut off raises UploadAborted (408); what follows is the caller's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
from litestar.types import Receive, ReceiveMessage

from domain.errors import UploadAborted
from entrypoints.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyLimits:
    idle_timeout: float  # seconds one `receive` may wait for anything
    min_rate: float = 0.0  # bytes a second, averaged over the time spent waiting; 0: none
    grace: float = 10.0  # seconds of waiting before the rate is enforced

    @classmethod
    def of(cls, settings: Settings) -> BodyLimits:
        """UPLOAD_IDLE_TIMEOUT, UPLOAD_MIN_RATE and UPLOAD_MIN_RATE_GRACE, for every upload body."""
        return cls(
            idle_timeout=settings.upload_idle_timeout,
            min_rate=settings.upload_min_rate,
            grace=settings.upload_min_rate_grace,
        )


class DeadlineReceive:
    """`receive` for one request body under `limits`: call it as the ASGI `receive` it wraps."""

    __slots__ = ("_grace", "_idle", "_min_rate", "_receive", "_received", "_waited")

    def __init__(self, receive: Receive, limits: BodyLimits) -> None:
        self._receive = receive
        self._idle = limits.idle_timeout
        self._min_rate = limits.min_rate
        self._grace = limits.grace
        self._received = 0  # body bytes so far
        self._waited = 0.0  # seconds spent inside `receive` so far

    async def __call__(self) -> ReceiveMessage:
        timeout, by_rate = self._idle, False
        if self._min_rate > 0:
            # The average stays at or above the rate while waited <= received / rate.
            allowed = max(self._grace, self._received / self._min_rate) - self._waited
            if allowed < timeout:
                timeout, by_rate = max(allowed, 0.0), True
        started = time.monotonic()
        with anyio.move_on_after(timeout) as waited:
            message = await self._receive()
        self._waited += time.monotonic() - started
        if waited.cancelled_caught:
            if by_rate:
                raise UploadAborted(
                    f"The upload came in slower than {self._min_rate:,.0f} bytes a second and was cut off."
                )
            raise UploadAborted(f"The upload stalled for {self._idle:g} seconds and was cut off.")
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))  # optional in ASGI
        return message
