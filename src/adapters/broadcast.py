"""The Broadcaster over Litestar's Channels plugin: memory backend in one process, Redis pub/sub
across processes.

One channel per user (`user:<id>`), not per conversation: an event goes to the channels of the
members the use case names at commit, so a socket subscribes once and never has to follow
membership changes. That also keeps clear of the per-conversation-channel bugs Channels has
(litestar #4867 empty channel entries never removed, #4871 a cancelled subscribe leaks, #4894 the
subscribe/unsubscribe race): a socket subscribes to one channel when it opens and unsubscribes
when it closes, and `release()` drops the channel's entry once its last socket is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from application.events import Logged

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 5.0  # seconds: past this, delivery is given up (clients catch up from the log)
SOCKET_BACKLOG = 256  # events queued for one socket before it counts as too far behind


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


class BoundedSubscriber(Subscriber):
    """A subscriber whose queue holds at most `SOCKET_BACKLOG` events. Channels drops what does not
    fit without a word; this one also sets `overflowed`, so the socket is closed, not left with a
    silent gap."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.overflowed = asyncio.Event()

    def put_nowait(self, item: bytes | None) -> bool:
        accepted = super().put_nowait(item)
        if not accepted:
            self.overflowed.set()
        return accepted


class SerialRedisPubSubBackend(RedisChannelsPubSubBackend):
    """Channels' Redis pub/sub backend, with subscribe and unsubscribe taking turns.

    redis-py's `PubSub.connect()` checks for a connection, then awaits one: a burst of concurrent
    first subscribes (clients reconnecting after a restart) each open a connection of their own
    and subscribe on it, and only the last is kept, so the others never hear a thing (measured:
    49 of 50 channels silent). One at a time, the first connects and the rest reuse it."""

    def __init__(self, *, redis: Redis, key_prefix: str) -> None:
        super().__init__(redis=redis, key_prefix=key_prefix)
        self._turns = asyncio.Lock()

    async def subscribe(self, channels: Iterable[str]) -> None:
        async with self._turns:
            await super().subscribe(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._turns:
            await super().unsubscribe(channels)


def channels_plugin(redis_url: str | None) -> ChannelsPlugin:
    backend: ChannelsBackend = (
        MemoryChannelsBackend()
        if redis_url is None
        else SerialRedisPubSubBackend(redis=Redis.from_url(redis_url), key_prefix="CHAT_MEDIA")
    )
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=SOCKET_BACKLOG,
        subscriber_backlog_strategy="backoff",
        subscriber_class=BoundedSubscriber,
    )


async def release(plugin: ChannelsPlugin, subscriber: Subscriber, user_id: str) -> None:
    """Unsubscribes from the user's channel and forgets the channel once no socket listens (#4867)."""
    channel = user_channel(user_id)
    await plugin.unsubscribe(subscriber, channel)
    if not plugin._channels.get(channel):  # Channels keeps empty entries forever otherwise
        plugin._channels.pop(channel, None)


class ChannelsBroadcaster:
    """Publishes each logged event, rendered by `render`, to the channels of its audience."""

    def __init__(self, plugin: ChannelsPlugin, render: Callable[[Logged], bytes]) -> None:
        self._plugin = plugin
        self._render = render

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None:
        if not audience:
            return
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await self._plugin.wait_published(
                    self._render(logged), [user_channel(u) for u in sorted(audience)]
                )
        except Exception:  # the change is committed: delivery failing must not turn it into an error
            log.warning("could not publish event %d; clients will catch up", logged.cursor, exc_info=True)
