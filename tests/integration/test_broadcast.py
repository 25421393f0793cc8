"""ChannelsBroadcaster over Litestar Channels' backends, memory and Redis, and the socket hub that
hands what is published to each process's sockets: one publish per event reaching every process,
delivery to the audience alone, bounded mailboxes that say when they overflow, a slow socket that
holds up no other, and a backend that is down never turning a committed change into an error."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import anyio
import pytest
from litestar.channels.backends.base import ChannelsBackend

from adapters.broadcast import (
    ChannelsBroadcaster,
    Delivery,
    channels_backend,
    deliveries,
    running,
    subscribe,
)
from adapters.sql.database import create_engine, session_maker
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from application.events import Logged, MessageDeleted
from application.queries import ChatQueries
from domain.conversation import ConversationKind, new_conversation
from entrypoints.ws_events import render as ws_render
from entrypoints.ws_hub import CLOSE_TOO_SLOW, SOCKET_BACKLOG, Mailbox, SocketHub
from tests.databases import reachable, unavailable
from tests.integration.server_process import free_port


def logged(cursor: int) -> Logged:
    event = MessageDeleted(conversation_id=uuid.uuid4(), seq=cursor, message_id=uuid.uuid4())
    return Logged(cursor=cursor, event=event)


def render(item: Logged) -> bytes:
    return f'{{"cursor": {item.cursor}}}'.encode()


def users(*names: str) -> list[str]:
    """Names of this test's own: a Redis channel is shared with whoever else uses that Redis."""
    run = uuid.uuid4().hex[:8]
    return [f"{name}-{run}" for name in names]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def redis_or_none(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def backend(redis_or_none: str | None) -> AsyncIterator[ChannelsBackend]:
    async with running(channels_backend(redis_or_none)) as started:
        assert await subscribe(started)
        yield started


def hub() -> SocketHub:
    return SocketHub(verifier=None, queries=None)  # type: ignore[arg-type]  # delivery needs neither


async def mine(stream: AsyncIterator[Delivery], audience_of: set[str], count: int) -> list[Delivery]:
    """The next `count` deliveries for these users (others' events on a shared Redis skipped)."""
    got: list[Delivery] = []
    with anyio.fail_after(5):
        async for delivery in stream:
            if audience_of & set(delivery.audience):
                got.append(delivery)
                if len(got) == count:
                    break
    return got


async def test_an_event_is_published_once_with_its_audience_and_frame(backend: ChannelsBackend) -> None:
    alice, bob = users("alice", "bob")
    await ChannelsBroadcaster(backend, render).publish(logged(7), frozenset({alice, bob}))
    [delivery] = await mine(deliveries(backend, subscribed=True), {alice, bob}, 1)
    assert delivery.cursor == 7
    assert sorted(delivery.audience) == sorted([alice, bob])
    assert delivery.frame == '{"cursor": 7}'


@pytest.mark.redis
async def test_every_process_hears_each_event_once(redis_url: str) -> None:
    bob, carol = users("bob", "carol")
    async with running(channels_backend(redis_url)) as here, running(channels_backend(redis_url)) as there:
        assert await subscribe(here)
        assert await subscribe(there)
        broadcaster = ChannelsBroadcaster(here, render)
        for cursor in (1, 2, 3):
            await broadcaster.publish(logged(cursor), frozenset({bob, carol}))
        for process in (here, there):
            heard = await mine(deliveries(process, subscribed=True), {bob}, 3)
            assert [d.cursor for d in heard] == [1, 2, 3]


async def test_the_hub_hands_an_event_to_every_socket_of_its_audience_and_no_other(
    backend: ChannelsBackend,
) -> None:
    alice, bob, carol = users("alice", "bob", "carol")
    sockets = hub()
    with (
        sockets.mailbox(bob) as bob_phone,
        sockets.mailbox(bob) as bob_laptop,
        sockets.mailbox(carol) as carol_phone,
    ):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sockets.route, deliveries(backend, subscribed=True))
            broadcaster = ChannelsBroadcaster(backend, render)
            await broadcaster.publish(logged(1), frozenset({alice, bob}))
            await broadcaster.publish(logged(2), frozenset({bob, carol}))
            with anyio.fail_after(5):
                for box in (bob_phone, bob_laptop):
                    assert [await box.next(), await box.next()] == [
                        (1, '{"cursor": 1}'),
                        (2, '{"cursor": 2}'),
                    ]
                assert await carol_phone.next() == (2, '{"cursor": 2}')
            assert len(carol_phone) == 0
            tasks.cancel_scope.cancel()


async def test_a_socket_that_stops_reading_overflows_alone_and_holds_up_no_other() -> None:
    sockets = hub()
    events = SOCKET_BACKLOG + 10
    received: list[int] = []
    with (
        sockets.mailbox("stuck") as stuck,
        sockets.mailbox("reader") as reader,
    ):

        async def read() -> None:
            while len(received) < events:
                received.append((await reader.next())[0])

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            for cursor in range(events):
                sockets.deliver(Delivery(cursor=cursor, audience=["stuck", "reader"], frame="{}"))
                await anyio.sleep(0)  # the reader's turn, as between two events from the network
    assert received == list(range(events))
    assert not reader.closing.is_set()
    assert (stuck.closing.is_set(), stuck.close_code) == (True, CLOSE_TOO_SLOW)
    assert len(stuck) == SOCKET_BACKLOG  # it holds the oldest, in order: nothing thinned out


async def test_a_mailbox_at_its_bound_keeps_its_frames_and_says_so() -> None:
    box = Mailbox(backlog=3)
    for cursor in range(3):
        box.put(cursor, "{}")
    assert not box.closing.is_set()
    box.put(3, "{}")
    assert (box.closing.is_set(), box.close_code) == (True, CLOSE_TOO_SLOW)
    assert [(await box.next())[0] for _ in range(3)] == [0, 1, 2]


async def test_shutting_down_asks_every_socket_to_close_and_waits_for_them() -> None:
    sockets = hub()
    closed: list[tuple[int, str]] = []

    async def handler(user: str) -> None:  # what the endpoint does: close when asked, then leave
        with sockets.mailbox(user) as box:
            await box.closing.wait()
            closed.append((box.close_code, box.close_reason))

    async with anyio.create_task_group() as tasks:
        for user in ("bob", "bob", "carol"):
            tasks.start_soon(handler, user)
        await anyio.sleep(0.01)
        with anyio.fail_after(5):
            await sockets.close_all()
        assert sockets.users == 0
    assert [code for code, _ in closed] == [1001, 1001, 1001]
    assert all("shutting down" in reason for _, reason in closed)


def test_a_user_is_forgotten_once_their_last_socket_closes() -> None:
    sockets = hub()
    with sockets.mailbox("bob"):
        with sockets.mailbox("bob"):
            assert sockets.users == 1
        assert sockets.users == 1
    assert sockets.users == 0


async def test_a_backend_that_is_down_does_not_raise() -> None:
    # Nothing listens on port 1: subscribing and every publish fail at the backend.
    async with running(channels_backend("redis://127.0.0.1:1/0")) as backend:
        with anyio.fail_after(20):
            assert not await subscribe(backend)
            await ChannelsBroadcaster(backend, render).publish(logged(1), frozenset({"bob"}))


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], None]]:
    """A Redis server of this test's own on a free port; calling the fixture's value kills it and
    starts it again on the same port (a restart, as an operator's or a crash's)."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    state: dict[str, subprocess.Popen[bytes]] = {}

    def start() -> None:
        state["process"] = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.05)

    def restart() -> None:
        state["process"].kill()
        state["process"].wait(timeout=10)
        start()

    start()
    restart.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    try:
        yield restart
    finally:
        state["process"].kill()
        state["process"].wait(timeout=10)


@pytest.mark.redis
async def test_after_redis_restarts_events_flow_again(private_redis: Callable[[], None]) -> None:
    url = private_redis.url  # type: ignore[attr-defined]
    async with running(channels_backend(url)) as listener, running(channels_backend(url)) as publisher:
        assert await subscribe(listener)
        heard: list[int] = []
        broadcaster = ChannelsBroadcaster(publisher, render)

        async def listen() -> None:
            async for delivery in deliveries(listener, subscribed=True):
                heard.append(delivery.cursor)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listen)
            with anyio.fail_after(5):
                while not heard:  # the first event, before the restart
                    await broadcaster.publish(logged(1), frozenset({"bob"}))
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(private_redis)
            with anyio.fail_after(20):  # resubscribed after the pauses of RESUBSCRIBE_PAUSES
                while 2 not in heard:
                    await broadcaster.publish(logged(2), frozenset({"bob"}))
                    await anyio.sleep(0.1)
            tasks.cancel_scope.cancel()


async def test_events_published_out_of_commit_order_or_never_reach_the_sockets_in_cursor_order(
    backend: ChannelsBackend, sqlite_url: str
) -> None:
    """Three events committed to a real log; the third is published first, the second never (its
    publisher died after the commit). The socket gets all three, in cursor order, each once."""
    bob, carol = users("bob", "carol")
    engine = create_engine(sqlite_url)
    uow = SqlUnitOfWorkFactory(session_maker(engine))
    conversation = new_conversation(
        creator_id=bob, kind=ConversationKind.GROUP, title="g", member_ids=[carol], now=datetime.now(UTC)
    )
    committed: list[Logged] = []
    async with uow() as tx:
        await tx.conversations.add(conversation)
        await tx.commit()
    sockets = SocketHub(verifier=None, queries=ChatQueries(uow))  # type: ignore[arg-type]  # no socket is opened
    try:
        with sockets.mailbox(carol) as phone:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(sockets.route, deliveries(backend, subscribed=True))
                await anyio.sleep(0.2)  # the router has read where the log stands
                for seq in (1, 2, 3):
                    async with uow() as tx:
                        deleted = MessageDeleted(
                            conversation_id=conversation.id, seq=seq, message_id=uuid.uuid4()
                        )
                        committed.append(await tx.events.append(deleted))
                        await tx.commit()
                broadcaster = ChannelsBroadcaster(backend, ws_render)
                members = conversation.member_ids
                await broadcaster.publish(committed[2], members)
                await broadcaster.publish(committed[0], members)
                with anyio.fail_after(5):
                    got = [await phone.next() for _ in range(3)]
                assert [cursor for cursor, _ in got] == [logged.cursor for logged in committed]
                assert [json.loads(frame)["seq"] for _, frame in got] == [1, 2, 3]
                await broadcaster.publish(committed[1], members)  # late after all: not handed on twice
                await anyio.sleep(0.3)
                assert len(phone) == 0
                tasks.cancel_scope.cancel()
    finally:
        await engine.dispose()
