"""ChannelsBroadcaster over Litestar Channels, on the memory backend and on Redis: per-user delivery,
bounded queues that say when they overflow, channels forgotten when their last socket goes, and a
backend that is down never turning a committed change into an error."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from litestar.channels import ChannelsPlugin

from adapters.broadcast import (
    SOCKET_BACKLOG,
    BoundedSubscriber,
    ChannelsBroadcaster,
    channels_plugin,
    release,
    user_channel,
)
from application.events import Logged, MessageDeleted


def logged(cursor: int) -> Logged:
    event = MessageDeleted(conversation_id=uuid.uuid4(), seq=cursor, message_id=uuid.uuid4())
    return Logged(cursor=cursor, event=event)


def render(item: Logged) -> bytes:
    return str(item.cursor).encode()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def plugin(request: pytest.FixtureRequest) -> AsyncIterator[ChannelsPlugin]:
    url = None if request.param == "memory" else request.getfixturevalue("redis_url")
    async with channels_plugin(url) as running:
        yield running


async def receive(subscriber: BoundedSubscriber, count: int) -> list[bytes]:
    got: list[bytes] = []
    with anyio.fail_after(5):
        async for frame in subscriber.iter_events():
            got.append(frame)
            if len(got) == count:
                break
    return got


async def test_an_event_reaches_its_audience_and_no_one_else(plugin: ChannelsPlugin) -> None:
    bob = await plugin.subscribe(user_channel("bob"))
    carol = await plugin.subscribe(user_channel("carol"))
    broadcaster = ChannelsBroadcaster(plugin, render)
    await broadcaster.publish(logged(1), frozenset({"alice", "bob"}))
    await broadcaster.publish(logged(2), frozenset({"bob", "carol"}))
    assert isinstance(bob, BoundedSubscriber)
    assert isinstance(carol, BoundedSubscriber)
    assert await receive(bob, 2) == [b"1", b"2"]
    assert await receive(carol, 1) == [b"2"]


async def test_a_full_queue_says_so_instead_of_dropping_in_silence() -> None:
    async with channels_plugin(None) as plugin:
        slow = await plugin.subscribe(user_channel("slow"))
        assert isinstance(slow, BoundedSubscriber)
        broadcaster = ChannelsBroadcaster(plugin, render)
        for cursor in range(SOCKET_BACKLOG):
            await broadcaster.publish(logged(cursor), frozenset({"slow"}))
        with anyio.fail_after(5):
            while slow.qsize < SOCKET_BACKLOG:  # the plugin hands events over in a task of its own
                await anyio.sleep(0.01)
        assert not slow.overflowed.is_set()
        await broadcaster.publish(logged(SOCKET_BACKLOG), frozenset({"slow"}))
        with anyio.fail_after(5):
            await slow.overflowed.wait()


async def test_release_forgets_a_channel_once_its_last_socket_is_gone() -> None:
    async with channels_plugin(None) as plugin:
        first = await plugin.subscribe(user_channel("bob"))
        second = await plugin.subscribe(user_channel("bob"))
        await release(plugin, first, "bob")
        assert user_channel("bob") in plugin._channels
        await release(plugin, second, "bob")
        assert user_channel("bob") not in plugin._channels  # litestar #4867 kept it forever


async def test_a_backend_that_is_down_does_not_raise() -> None:
    # Nothing listens on port 1: every publish fails at the backend.
    async with channels_plugin("redis://127.0.0.1:1/0") as plugin:
        broadcaster = ChannelsBroadcaster(plugin, render)
        with anyio.fail_after(10):
            await broadcaster.publish(logged(1), frozenset({"bob"}))


@pytest.mark.redis
async def test_a_burst_of_first_subscribes_on_redis_all_hear_their_events(redis_url: str) -> None:
    # redis-py keeps only the last of concurrent first connections: the backend must serialise.
    users = [f"burst-{uuid.uuid4().hex[:8]}-{i}" for i in range(50)]
    async with channels_plugin(redis_url) as plugin:
        subscribers: list[BoundedSubscriber] = []

        async def subscribe(user: str) -> None:
            subscriber = await plugin.subscribe(user_channel(user))
            assert isinstance(subscriber, BoundedSubscriber)
            subscribers.append(subscriber)

        async with anyio.create_task_group() as tasks:
            for user in users:
                tasks.start_soon(subscribe, user)
        await ChannelsBroadcaster(plugin, render).publish(logged(7), frozenset(users))
        for subscriber in subscribers:
            assert await receive(subscriber, 1) == [b"7"]
