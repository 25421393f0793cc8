"""Conversations and their messages: the chat core the media hang on."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from application.conversations import (
    AddMembers,
    AddMembersHandler,
    RemoveMember,
    RemoveMemberHandler,
    StartConversation,
    StartConversationHandler,
)
from application.messages import DeleteMessage, DeleteMessageHandler, PostMessage, PostMessageHandler
from application.queries import ChatQueries
from domain.conversation import ConversationKind
from entrypoints.http.auth import AuthRequest, media_links
from entrypoints.http.schemas import (
    ConversationIn,
    ConversationOut,
    MembersIn,
    MessageIn,
    MessageOut,
    conversation_out,
    message_out,
)


class ConversationController(Controller):
    path = "/api/v1/conversations"
    tags = ["conversations"]

    @post(
        "/", status_code=201, summary="Start a conversation (a direct one is returned with 200 if it exists)"
    )
    async def start(
        self,
        request: AuthRequest,
        data: JSONBody[ConversationIn],
        start_conversation: NamedDependency[StartConversationHandler],
    ) -> Response[ConversationOut]:
        started = await start_conversation(
            StartConversation(
                creator_id=request.user.id,
                kind=ConversationKind(data.kind),
                title=data.title,
                member_ids=data.member_ids,
            )
        )
        return Response(conversation_out(started.conversation), status_code=201 if started.created else 200)

    @get("/", summary="The caller's conversations, newest activity first")
    async def list_mine(
        self, request: AuthRequest, queries: NamedDependency[ChatQueries]
    ) -> list[ConversationOut]:
        return [conversation_out(c) for c in await queries.conversations(request.user.id)]

    @get("/{conversation_id:uuid}", summary="One conversation (404 unless the caller is a member)")
    async def get_one(
        self,
        request: AuthRequest,
        conversation_id: FromPath[uuid.UUID],
        queries: NamedDependency[ChatQueries],
    ) -> ConversationOut:
        return conversation_out(await queries.conversation(request.user.id, conversation_id))

    @post("/{conversation_id:uuid}/members", status_code=200, summary="Add members to a group")
    async def add_members(
        self,
        request: AuthRequest,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[MembersIn],
        add_members: NamedDependency[AddMembersHandler],
    ) -> ConversationOut:
        conversation = await add_members(
            AddMembers(user_id=request.user.id, conversation_id=conversation_id, member_ids=data.member_ids)
        )
        return conversation_out(conversation)

    @delete(
        "/{conversation_id:uuid}/members/{user_id:str}",
        status_code=204,
        summary="Leave a group: a member removes themselves (403 for another member's id)",
        description="404 for a non-member as for an unknown conversation; 409 for a direct conversation.",
    )
    async def remove_member(
        self,
        request: AuthRequest,
        conversation_id: FromPath[uuid.UUID],
        user_id: FromPath[str],
        remove_member: NamedDependency[RemoveMemberHandler],
    ) -> None:
        await remove_member(
            RemoveMember(user_id=request.user.id, conversation_id=conversation_id, member_id=user_id)
        )

    @post("/{conversation_id:uuid}/messages", status_code=201, summary="Post a message")
    async def post_message(
        self,
        request: AuthRequest,
        conversation_id: FromPath[uuid.UUID],
        data: JSONBody[MessageIn],
        post_message: NamedDependency[PostMessageHandler],
    ) -> MessageOut:
        posted = await post_message(
            PostMessage(
                sender_id=request.user.id,
                conversation_id=conversation_id,
                content=data.content,
                attachment_ids=data.attachment_ids,
            )
        )
        return message_out(posted.message, posted.attachments, media_links(request))

    @get("/{conversation_id:uuid}/messages", summary="Messages, newest first, with their attachments inline")
    async def messages(
        self,
        request: AuthRequest,
        conversation_id: FromPath[uuid.UUID],
        queries: NamedDependency[ChatQueries],
        before: FromQuery[uuid.UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> list[MessageOut]:
        page = await queries.messages(request.user.id, conversation_id, before=before, limit=limit)
        links = media_links(request)
        return [message_out(item.message, list(item.attachments), links) for item in page]


class MessageController(Controller):
    path = "/api/v1/messages"
    tags = ["messages"]

    @delete("/{message_id:uuid}", status_code=204, summary="Delete a message and its files (sender only)")
    async def delete_message(
        self,
        request: AuthRequest,
        message_id: FromPath[uuid.UUID],
        delete_message: NamedDependency[DeleteMessageHandler],
    ) -> None:
        await delete_message(DeleteMessage(user_id=request.user.id, message_id=message_id))
