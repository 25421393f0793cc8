"""A socket's mailbox once it sends (`Mailbox.send_from_now`): one send in flight, the frames in
cursor order, the replay's frames dropped, a failed send closing the socket. The server's send is
a future resolved by the test, as granian's is resolved once the frame is written."""

from __future__ import annotations

import asyncio

from entrypoints.ws_hub import Mailbox


class ServerSend:
    """Records each frame and answers a future per send, left pending until `complete`."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.pending: list[asyncio.Future[None]] = []

    def __call__(self, frame: str) -> asyncio.Future[None]:
        self.frames.append(frame)
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(sent)
        return sent

    async def complete(self, error: Exception | None = None) -> None:
        sent = self.pending.pop(0)
        if error is None:
            sent.set_result(None)
        else:
            sent.set_exception(error)
        await asyncio.sleep(0)  # the done callback's turn


async def test_an_idle_socket_sends_at_once_and_the_next_frame_waits_for_the_first() -> None:
    box, send = Mailbox(), ServerSend()
    box.send_from_now(send)
    box.put(1, "one")
    assert send.frames == ["one"]
    box.put(2, "two")
    box.put(3, "three")
    assert (send.frames, len(box)) == (["one"], 2)  # one in flight, the rest waiting in order
    await send.complete()
    assert send.frames == ["one", "two"]
    await send.complete()
    await send.complete()
    assert (send.frames, len(box), send.pending) == (["one", "two", "three"], 0, [])
    box.put(4, "four")  # idle again: straight out
    assert send.frames[-1] == "four"


async def test_frames_the_replay_sent_are_dropped_whether_waiting_or_live() -> None:
    box, send = Mailbox(), ServerSend()
    box.put(5, "five")  # came while the replay ran, which sent up to 6
    box.put(7, "seven")
    box.send_from_now(send, after=6)
    assert send.frames == ["seven"]
    await send.complete()
    box.put(6, "six")  # a late live copy of a replayed event, on an idle socket
    assert send.frames == ["seven"]
    box.put(8, "eight")
    assert send.frames == ["seven", "eight"]


async def test_a_failed_send_closes_the_socket_without_a_close_frame_and_sends_no_more() -> None:
    box, send = Mailbox(), ServerSend()
    box.send_from_now(send)
    box.put(1, "one")
    box.put(2, "two")
    await send.complete(ConnectionResetError("peer gone"))
    assert (box.closing.is_set(), box.close_code) == (True, 0)
    box.put(3, "three")
    assert send.frames == ["one"]


async def test_a_send_that_raises_at_once_closes_the_socket() -> None:
    box = Mailbox()

    def broken(frame: str) -> asyncio.Future[None]:
        raise RuntimeError("the transport is closed")

    box.send_from_now(broken)
    box.put(1, "one")
    assert (box.closing.is_set(), box.close_code) == (True, 0)


async def test_a_coroutine_send_is_awaited_as_a_task_in_order() -> None:
    box, sent = Mailbox(), []

    async def send(frame: str) -> None:
        await asyncio.sleep(0)
        sent.append(frame)

    box.send_from_now(send)
    for cursor in range(5):
        box.put(cursor, str(cursor))
    for _ in range(20):
        await asyncio.sleep(0)
    assert sent == ["0", "1", "2", "3", "4"]
