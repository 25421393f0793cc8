"""Conversations and messages through the real app: every route and status the contract names."""

from __future__ import annotations

import pytest

from adapters.memory import RecordingBroadcaster
from application.events import MessageCreated, MessageDeleted
from tests.integration.http_fixtures import Api, bearer, new_id


async def test_group_conversation_is_created_with_the_caller_as_member(api: Api) -> None:
    r = await api.client.post(
        "/api/v1/conversations",
        json={"kind": "group", "title": "Team", "member_ids": ["bob", "carol"]},
        headers=bearer("alice"),
    )
    assert r.status_code == 201
    body = r.json()
    assert body["kind"] == "group"
    assert body["title"] == "Team"
    assert body["member_ids"] == ["alice", "bob", "carol"]
    assert set(body) == {"id", "kind", "title", "member_ids", "created_at"}


async def test_direct_conversation_is_unique_per_pair(api: Api) -> None:
    first = await api.client.post(
        "/api/v1/conversations", json={"kind": "direct", "member_ids": ["bob"]}, headers=bearer("alice")
    )
    again = await api.client.post(
        "/api/v1/conversations", json={"kind": "direct", "member_ids": ["alice"]}, headers=bearer("bob")
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["title"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "direct", "member_ids": []}, 422),
        ({"kind": "direct", "member_ids": ["bob", "carol"]}, 422),
        ({"kind": "triangle", "member_ids": ["bob"]}, 422),
        ({"kind": "group"}, 422),
        ({"kind": "group", "member_ids": [""]}, 422),
        ({"kind": "group", "member_ids": ["bob"], "admin": True}, 422),
    ],
)
async def test_invalid_conversations_are_refused_with_a_sentence(
    api: Api, body: dict[str, object], status: int
) -> None:
    r = await api.client.post("/api/v1/conversations", json=body, headers=bearer("alice"))
    assert r.status_code == status, r.text
    assert r.json()["status_code"] == status
    assert isinstance(r.json()["detail"], str)
    assert r.json()["detail"]


async def test_malformed_json_is_400(api: Api) -> None:
    r = await api.client.post(
        "/api/v1/conversations",
        content=b'{"kind": "group", ',
        headers={**bearer("alice"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["status_code"] == 400


async def test_a_user_sees_only_their_conversations(api: Api) -> None:
    mine = await api.conversation("alice", ["bob"])
    await api.conversation("carol", ["dave"])
    r = await api.client.get("/api/v1/conversations", headers=bearer("alice"))
    assert [c["id"] for c in r.json()] == [mine["id"]]
    assert (
        await api.client.get(f"/api/v1/conversations/{mine['id']}", headers=bearer("bob"))
    ).status_code == 200
    outsider = await api.client.get(f"/api/v1/conversations/{mine['id']}", headers=bearer("mallory"))
    unknown = await api.client.get(f"/api/v1/conversations/{new_id()}", headers=bearer("mallory"))
    assert outsider.status_code == unknown.status_code == 404
    assert outsider.content == unknown.content


async def test_conversations_are_listed_newest_activity_first(api: Api) -> None:
    older = await api.conversation("alice", ["bob"])
    newer = await api.conversation("alice", ["carol"])
    r = await api.client.get("/api/v1/conversations", headers=bearer("alice"))
    assert [c["id"] for c in r.json()] == [newer["id"], older["id"]]
    await api.message("alice", older["id"])
    r = await api.client.get("/api/v1/conversations", headers=bearer("alice"))
    assert [c["id"] for c in r.json()] == [older["id"], newer["id"]]


async def test_any_member_adds_members_to_a_group(api: Api) -> None:
    group = await api.conversation("alice", ["bob"])
    r = await api.client.post(
        f"/api/v1/conversations/{group['id']}/members", json={"member_ids": ["carol"]}, headers=bearer("bob")
    )
    assert r.status_code == 200
    assert r.json()["member_ids"] == ["alice", "bob", "carol"]
    assert (
        await api.client.get(f"/api/v1/conversations/{group['id']}", headers=bearer("carol"))
    ).status_code == 200
    outsider = await api.client.post(
        f"/api/v1/conversations/{group['id']}/members",
        json={"member_ids": ["mallory"]},
        headers=bearer("mallory"),
    )
    assert outsider.status_code == 404


async def test_a_direct_conversation_takes_no_third_member(api: Api) -> None:
    direct = await api.conversation("alice", ["bob"], kind="direct")
    r = await api.client.post(
        f"/api/v1/conversations/{direct['id']}/members",
        json={"member_ids": ["carol"]},
        headers=bearer("alice"),
    )
    assert r.status_code == 422
    after = await api.client.get(f"/api/v1/conversations/{direct['id']}", headers=bearer("alice"))
    assert after.json()["member_ids"] == ["alice", "bob"]


async def test_a_member_leaves_a_group_and_removes_no_one_else(api: Api) -> None:
    group = await api.conversation("alice", ["bob", "carol"])
    members = f"/api/v1/conversations/{group['id']}/members"

    other = await api.client.delete(f"{members}/carol", headers=bearer("bob"))
    outsider = await api.client.delete(f"{members}/mallory", headers=bearer("mallory"))
    unknown = await api.client.delete(
        f"/api/v1/conversations/{new_id()}/members/mallory", headers=bearer("mallory")
    )
    left = await api.client.delete(f"{members}/bob", headers=bearer("bob"))
    again = await api.client.delete(f"{members}/bob", headers=bearer("bob"))

    assert (other.status_code, outsider.status_code, left.status_code, again.status_code) == (
        403,
        404,
        204,
        404,
    )
    assert other.json()["detail"]
    assert outsider.json() == unknown.json()
    after = await api.client.get(f"/api/v1/conversations/{group['id']}", headers=bearer("alice"))
    assert after.json()["member_ids"] == ["alice", "carol"]


async def test_a_direct_conversation_cannot_be_left(api: Api) -> None:
    direct = await api.conversation("alice", ["bob"], kind="direct")
    r = await api.client.delete(f"/api/v1/conversations/{direct['id']}/members/bob", headers=bearer("bob"))
    assert r.status_code == 409
    assert r.json() == {"status_code": 409, "detail": r.json()["detail"]}
    assert "exactly two members" in r.json()["detail"]
    after = await api.client.get(f"/api/v1/conversations/{direct['id']}", headers=bearer("bob"))
    assert after.json()["member_ids"] == ["alice", "bob"]


async def test_posting_a_message_answers_the_contract_shape_and_tells_members(
    api: Api, broadcaster: RecordingBroadcaster
) -> None:
    group = await api.conversation("alice", ["bob"])
    message = await api.message("alice", group["id"], "hi there")
    assert set(message) == {
        "id",
        "conversation_id",
        "sender_id",
        "content",
        "has_media",
        "attachments",
        "created_at",
    }
    assert message["sender_id"] == "alice"
    assert message["has_media"] is False
    assert message["attachments"] == []
    [event] = broadcaster.events
    assert isinstance(event, MessageCreated)
    assert str(event.message.id) == message["id"]


async def test_a_non_member_cannot_post_and_empty_messages_are_refused(api: Api) -> None:
    group = await api.conversation("alice", ["bob"])
    path = f"/api/v1/conversations/{group['id']}/messages"
    assert (await api.client.post(path, json={"content": "x"}, headers=bearer("mallory"))).status_code == 404
    assert (await api.client.post(path, json={"content": "   "}, headers=bearer("alice"))).status_code == 422


async def test_history_is_newest_first_and_pages_with_before(api: Api) -> None:
    group = await api.conversation("alice", ["bob"])
    sent = [await api.message("alice" if i % 2 else "bob", group["id"], f"m{i}") for i in range(7)]
    path = f"/api/v1/conversations/{group['id']}/messages"
    first = (await api.client.get(path, params={"limit": 3}, headers=bearer("bob"))).json()
    assert [m["content"] for m in first] == ["m6", "m5", "m4"]
    second = (
        await api.client.get(path, params={"limit": 3, "before": first[-1]["id"]}, headers=bearer("bob"))
    ).json()
    assert [m["content"] for m in second] == ["m3", "m2", "m1"]
    last = (await api.client.get(path, params={"before": second[-1]["id"]}, headers=bearer("bob"))).json()
    assert [m["id"] for m in last] == [sent[0]["id"]]


async def test_history_refuses_bad_paging_and_foreign_anchors(api: Api) -> None:
    group = await api.conversation("alice", ["bob"])
    other = await api.conversation("alice", ["carol"])
    foreign = await api.message("alice", other["id"])
    path = f"/api/v1/conversations/{group['id']}/messages"
    assert (await api.client.get(path, params={"limit": 0}, headers=bearer("alice"))).status_code in (
        400,
        422,
    )
    assert (await api.client.get(path, params={"limit": 101}, headers=bearer("alice"))).status_code in (
        400,
        422,
    )
    assert (
        await api.client.get(path, params={"before": foreign["id"]}, headers=bearer("alice"))
    ).status_code == 404
    assert (await api.client.get(path, headers=bearer("mallory"))).status_code == 404


async def test_only_the_sender_deletes_a_message(api: Api, broadcaster: RecordingBroadcaster) -> None:
    group = await api.conversation("alice", ["bob"])
    message = await api.message("alice", group["id"])
    path = f"/api/v1/messages/{message['id']}"
    assert (await api.client.delete(path, headers=bearer("bob"))).status_code == 403
    assert (await api.client.delete(path, headers=bearer("mallory"))).status_code == 404
    assert (await api.client.delete(path, headers=bearer("alice"))).status_code == 204
    assert (await api.client.delete(path, headers=bearer("alice"))).status_code == 404
    history = await api.client.get(f"/api/v1/conversations/{group['id']}/messages", headers=bearer("bob"))
    assert history.json() == []
    assert isinstance(broadcaster.events[-1], MessageDeleted)


async def test_health_and_schema_need_no_token(api: Api) -> None:
    health = await api.client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    schema = await api.client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/messages/{message_id}",
        "/api/v1/media/upload",
        "/api/v1/media/files/{filename}",
        "/api/v1/media/message/{message_id}",
        "/api/v1/media/{media_id}",
    ):
        assert path in paths, path
