"""The WebSocket event stream against the service as a real process (granian), with a real
WebSocket client: the contract's four events, who hears what, auth, replay, expiry, shutdown."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests import samples
from tests.integration.http_fixtures import SECRET, bearer, unsigned
from tests.integration.server_process import Server, running_server
from tests.integration.ws_client import listen

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ws"), SECRET) as running:
        yield running


def token(user: str, ttl: int = 600) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + ttl}, SECRET, algorithm="HS256")


def call(server: Server, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
    r = httpx.request(method, server.base + path, headers=bearer(user), timeout=30, **kwargs)
    assert r.status_code < 300, r.text
    return r


def group(server: Server, owner: str, *members: str) -> str:
    body = {"kind": "group", "title": "t", "member_ids": list(members)}
    return str(call(server, "POST", "/api/v1/conversations", owner, json=body).json()["id"])


def post(server: Server, user: str, conversation: str, text: str = "hi") -> dict[str, Any]:
    path = f"/api/v1/conversations/{conversation}/messages"
    return call(server, "POST", path, user, json={"content": text}).json()  # type: ignore[no-any-return]


def upload(server: Server, user: str, message_id: str) -> list[dict[str, Any]]:
    files = {"file": ("a.png", samples.sample("png"))}
    r = call(server, "POST", "/api/v1/media/upload", user, data={"message_id": message_id}, files=files)
    return r.json()  # type: ignore[no-any-return]


def test_a_member_hears_every_event_in_the_contracts_shape(server: Server) -> None:
    conversation = group(server, "alice", "bob")
    with listen(server.base, token("bob")) as bob:
        ready = bob.next()
        assert ready["type"] == "ready"
        message = post(server, "alice", conversation)
        [attachment] = upload(server, "alice", message["id"])
        call(server, "DELETE", f"/api/v1/media/{attachment['id']}", "alice")
        call(server, "DELETE", f"/api/v1/messages/{message['id']}", "alice")

        created, attached, media_deleted, message_deleted = (bob.next() for _ in range(4))

    assert created["type"] == "message.created"
    assert created["message"] == message
    assert attached["type"] == "media.attached"
    assert attached["message_id"] == message["id"]
    assert attached["attachments"] == [unsigned(attachment)]
    assert media_deleted["type"] == "media.deleted"
    assert (media_deleted["media_id"], media_deleted["has_media"]) == (attachment["id"], False)
    assert message_deleted == {
        "type": "message.deleted",
        "conversation_id": conversation,
        "message_id": message["id"],
        "seq": message_deleted["seq"],
        "cursor": message_deleted["cursor"],
    }
    frames = [created, attached, media_deleted, message_deleted]
    assert all(f["conversation_id"] == conversation for f in frames)
    seqs, cursors = [f["seq"] for f in frames], [f["cursor"] for f in frames]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4
    assert cursors == sorted(cursors)
    assert cursors[0] > ready["cursor"]


def test_a_non_member_hears_nothing(server: Server) -> None:
    conversation = group(server, "alice", "bob")
    with listen(server.base, token("mallory")) as mallory, listen(server.base, token("bob")) as bob:
        mallory.next()  # ready
        bob.next()
        post(server, "alice", conversation)
        assert bob.next()["type"] == "message.created"  # it was sent...
        assert mallory.nothing_within(1.0)  # ...and not to her


def test_a_user_added_while_connected_hears_the_conversation_from_then_on(server: Server) -> None:
    conversation = group(server, "alice")
    with listen(server.base, token("carol")) as carol:
        carol.next()
        post(server, "alice", conversation, "before")
        assert carol.nothing_within(0.5)
        call(
            server,
            "POST",
            f"/api/v1/conversations/{conversation}/members",
            "alice",
            json={"member_ids": ["carol"]},
        )
        post(server, "alice", conversation, "after")
        frame = carol.next()
    assert frame["message"]["content"] == "after"


def test_a_member_who_leaves_hears_nothing_more_of_the_conversation(server: Server) -> None:
    conversation = group(server, "alice", "bob", "carol")
    with listen(server.base, token("bob")) as bob, listen(server.base, token("carol")) as carol:
        before = bob.next()["cursor"]
        carol.next()
        post(server, "alice", conversation, "before")
        assert bob.next()["message"]["content"] == "before"  # bob's socket did hear it...
        assert carol.next()["message"]["content"] == "before"
        r = call(server, "DELETE", f"/api/v1/conversations/{conversation}/members/bob", "bob")
        assert r.status_code == 204
        post(server, "alice", conversation, "after")
        frame = carol.next()
        assert (frame["type"], frame["message"]["content"]) == ("message.created", "after")
        assert bob.nothing_within(1.0)  # ...and hears nothing from the moment he left
    with listen(server.base, token("bob"), since=str(before)) as bob:
        assert bob.next() == {"type": "ready", "cursor": before}
        assert bob.nothing_within(0.5)  # nor is it replayed to him, before or after he left


@pytest.mark.parametrize(
    "credentials",
    [None, "not.a.token", "expired", "wrong-key", "alg-none"],
)
def test_a_bad_token_closes_with_4401_before_any_event(server: Server, credentials: str | None) -> None:
    made = {
        "expired": jwt.encode({"sub": "bob", "exp": int(time.time()) - 3600}, SECRET, algorithm="HS256"),
        "wrong-key": jwt.encode({"sub": "bob", "exp": int(time.time()) + 600}, "x" * 40, algorithm="HS256"),
        "alg-none": jwt.encode({"sub": "bob", "exp": int(time.time()) + 600}, None, algorithm="none"),
    }
    with listen(server.base, made.get(credentials or "", credentials)) as socket:
        code, reason = socket.close_code()
    assert code == 4401
    assert reason


def test_the_token_may_come_as_a_bearer_header(server: Server) -> None:
    conversation = group(server, "alice", "bob")
    url = server.base.replace("http://", "ws://") + "/api/v1/ws"
    from httpx_ws import connect_ws

    with httpx.Client(timeout=10) as client, connect_ws(url, client, headers=bearer("bob")) as session:
        assert session.receive_json(timeout=10)["type"] == "ready"
        post(server, "alice", conversation)
        assert session.receive_json(timeout=10)["type"] == "message.created"


def test_a_client_that_reconnects_with_since_gets_what_it_missed(server: Server) -> None:
    conversation = group(server, "alice", "bob")
    with listen(server.base, token("bob")) as bob:
        bob.next()
        first = post(server, "alice", conversation, "seen")
        last_seen = bob.next()["cursor"]
    missed = [post(server, "alice", conversation, f"missed {i}") for i in range(3)]
    elsewhere = group(server, "alice")  # bob is not in this one
    post(server, "alice", elsewhere, "not for bob")
    with listen(server.base, token("bob"), since=str(last_seen)) as bob:
        assert bob.next() == {"type": "ready", "cursor": last_seen}
        replayed = [bob.next() for _ in range(3)]
        assert bob.nothing_within(0.5)
        live = post(server, "alice", conversation, "live")
        assert bob.next()["message"]["id"] == live["id"]
    assert [f["message"]["id"] for f in replayed] == [m["id"] for m in missed]
    assert first["id"] not in {f["message"]["id"] for f in replayed}


def test_a_token_that_expires_while_connected_closes_the_socket(server: Server) -> None:
    # Valid for 3 more seconds: the service accepts 30 s of clock skew past `exp`.
    almost = jwt.encode({"sub": "bob", "exp": int(time.time()) - 27}, SECRET, algorithm="HS256")
    started = time.monotonic()
    with listen(server.base, almost) as bob:
        assert bob.next()["type"] == "ready"
        code, reason = bob.close_code(timeout=15)
    assert code == 4401
    assert "expired" in reason
    assert time.monotonic() - started < 15


def test_shutting_down_closes_sockets_with_1001(tmp_path: Path) -> None:
    # SIGTERM to the main process alone, as docker stop, Kubernetes and systemd's KillMode=mixed
    # send it: the server then tells its workers to close their sockets before it stops them.
    with running_server(tmp_path, SECRET) as own, listen(own.base, token("bob")) as bob:
        assert bob.next()["type"] == "ready"
        os.kill(own.process.pid, signal.SIGTERM)
        code, reason = bob.close_code(timeout=15)
        assert own.process.wait(timeout=15) == 0
    assert code == 1001
    assert "shutting down" in reason
