"""The Broadcaster over Litestar Channels' backends: memory in one process, Redis pub/sub across
processes.

One channel carries every event (`EVENTS_CHANNEL`), not one channel per user or per conversation:
an event is published once, its audience (the members when it committed) beside its rendered frame,
and every process hands it to the sockets it holds for those users (`entrypoints.ws_hub`). An event
to a group of 1,000 is one PUBLISH and one message per process, not 1,000 of each; a socket never
subscribes or unsubscribes (so none of litestar #4867 empty channel entries kept, #4871 a cancelled
subscribe leaking, #4894 the subscribe/unsubscribe race, nor redis-py's lost concurrent first
subscribes), and a membership change needs no re-subscribing: the audience is read at commit.

The backend is driven directly, not through `ChannelsPlugin`: its single reader task dies with the
first Redis error and is never restarted, which would leave a process's sockets silent until it is
restarted; `deliveries()` subscribes again after a failure, with a growing pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import msgspec
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.metrics import EVENTS_PUBLISHED, PUBLISH_FAILURES
from application.events import Logged
from domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "chat-media:events"  # pub/sub channel names are global to a Redis server
PUBLISH_TIMEOUT = 5.0  # seconds: past this, delivery is given up (clients catch up from the log)
RESUBSCRIBE_PAUSES = (0.1, 0.5, 1.0, 2.0, 5.0)  # seconds between attempts after a failure; the last repeats
# How long the Redis backend's reader waits for a message before it asks again. Channels' default,
# 1 ms, polls a thousand times a second while nothing happens; a message ends the wait at once,
# so a long wait costs no latency.
REDIS_POLL_MS = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    """A published event as every process receives it."""

    cursor: int
    audience: list[str]  # the users to hand it to
    frame: str  # the JSON text each of their sockets is sent, as it is


_decoder = msgspec.msgpack.Decoder(tuple[int, list[str], str])


def encode_delivery(delivery: Delivery) -> bytes:
    return msgspec.msgpack.encode((delivery.cursor, delivery.audience, delivery.frame))


def decode_delivery(data: bytes) -> Delivery:
    cursor, audience, frame = _decoder.decode(data)
    return Delivery(cursor=cursor, audience=audience, frame=frame)


def channels_backend(redis_url: str | None) -> ChannelsBackend:
    if redis_url is None:
        return MemoryChannelsBackend()
    return RedisChannelsPubSubBackend(
        redis=Redis.from_url(redis_url), key_prefix="CHAT_MEDIA", stream_sleep_no_subscriptions=REDIS_POLL_MS
    )


async def check_redis(redis_url: str, socket_timeout: float) -> None:
    """Raises StorageUnavailable unless Redis answers a PING within `socket_timeout` seconds (a client
    of its own: readiness probes come seconds apart, and must not wait behind the event stream)."""
    client = Redis.from_url(redis_url, socket_connect_timeout=socket_timeout, socket_timeout=socket_timeout)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        raise StorageUnavailable("Redis does not answer.") from exc
    finally:
        await client.aclose()


@asynccontextmanager
async def running(backend: ChannelsBackend) -> AsyncIterator[ChannelsBackend]:
    """The backend between its start-up and its shutdown."""
    await backend.on_startup()
    try:
        yield backend
    finally:
        await backend.on_shutdown()


async def subscribe(backend: ChannelsBackend) -> bool:
    """Subscribes this process to every event; False (logged) when the backend does not answer."""
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await backend.subscribe([EVENTS_CHANNEL])
    except Exception as exc:
        log.warning("could not subscribe to the events (%s); retrying in the background", exc)
        return False
    return True


async def deliveries(backend: ChannelsBackend, *, subscribed: bool) -> AsyncIterator[Delivery]:
    """Every event published by any process while subscribed, in each publisher's order; after a
    failure (Redis gone), and first when not `subscribed` yet, it subscribes again and goes on.
    Events published meanwhile are not heard: clients catch up from the event log (`?since=`)."""
    failures = 0 if subscribed else 1
    while True:
        if failures:
            await asyncio.sleep(RESUBSCRIBE_PAUSES[min(failures, len(RESUBSCRIBE_PAUSES)) - 1])
            if not await subscribe(backend):
                failures += 1
                continue
            log.info("subscribed to the events again")
        try:
            async for _, data in backend.stream_events():
                failures = 0
                yield decode_delivery(data)
        except Exception as exc:
            failures += 1
            log.warning("the event stream broke (%s): subscribing again", exc)


class ChannelsBroadcaster:
    """Publishes each logged event, rendered by `render`, with its audience, to every process."""

    def __init__(self, backend: ChannelsBackend, render: Callable[[Logged], bytes]) -> None:
        self._backend = backend
        self._render = render

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None:
        if not audience:
            return
        try:
            frame = self._render(logged).decode()
            data = encode_delivery(Delivery(cursor=logged.cursor, audience=list(audience), frame=frame))
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await self._backend.publish(data, [EVENTS_CHANNEL])
            EVENTS_PUBLISHED.inc()
        except Exception:  # the change is committed: delivery failing must not turn it into an error
            PUBLISH_FAILURES.inc()
            log.warning("could not publish event %d; clients will catch up", logged.cursor, exc_info=True)
