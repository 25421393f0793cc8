"""The reads, as Core statements built once, with bound parameters.

Through the ORM each of these queries was built anew per call (its cache key computed again) and
its rows were loaded as entities into the session: the access check of a download took 1.4 ms that
way against 0.8 ms as a statement below (SQLite, same machine), on every download, listing and
event. Rows come back as plain `Row`s named by their columns, which the repositories' mappers read
as they read the ORM's objects. Writes stay with the ORM and advanced-alchemy.
"""

from __future__ import annotations

import uuid
from typing import Any

from advanced_alchemy.types import GUID
from sqlalchemy import ColumnElement, Dialect, FromClause, bindparam, exists, select, type_coerce

from adapters.sql.models import AttachmentRow, ConversationRow, MemberRow, MessageRow


def _uuid_of_bytes(value: bytes | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(bytes=value)


class _ReadGuid(GUID):
    """A GUID column as the reads take it back. On SQLite (16 bytes) one call per value, where
    GUID's own is three (TypeDecorator's wrapper, `process_result_value`, its class-name and
    dialect tests) before `UUID()`: a page of 50 messages and their attachments converts ~150,
    and that was about a quarter of its read's time. Other databases keep GUID's processing."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "sqlite" and self.binary:
            return _uuid_of_bytes
        return super().result_processor(dialect, coltype)


_READ_GUID = _ReadGuid()


def _columns(table: FromClause) -> list[ColumnElement[Any]]:
    """A table's columns for a read, each under its own name, its GUIDs through `_ReadGuid`."""
    return [
        type_coerce(column, _READ_GUID).label(column.name) if isinstance(column.type, GUID) else column
        for column in table.c
    ]


_attachments = AttachmentRow.__table__
_conversations = ConversationRow.__table__
_members = MemberRow.__table__
_messages = MessageRow.__table__

CONVERSATION = select(*_columns(_conversations)).where(_conversations.c.id == bindparam("id"))
MEMBER_IDS = select(_members.c.user_id).where(_members.c.conversation_id == bindparam("conversation_id"))
IS_MEMBER = (
    select(_members.c.id)
    .where(
        _members.c.conversation_id == bindparam("conversation_id"),
        _members.c.user_id == bindparam("user_id"),
    )
    .limit(1)
)

# A member's conversations, most recent activity first, and the members of each.
_mine = select(_members.c.conversation_id).where(_members.c.user_id == bindparam("user_id"))
CONVERSATIONS_OF = (
    select(*_columns(_conversations))
    .where(_conversations.c.id.in_(_mine))
    .order_by(_conversations.c.last_activity_at.desc(), _conversations.c.id.desc())
)
MEMBERS_OF_CONVERSATIONS_OF = select(_members.c.conversation_id, _members.c.user_id).where(
    _members.c.conversation_id.in_(_mine)
)

MESSAGE = select(*_columns(_messages)).where(_messages.c.id == bindparam("id"))
MESSAGE_SEQ = select(_messages.c.seq).where(
    _messages.c.id == bindparam("id"), _messages.c.conversation_id == bindparam("conversation_id")
)
# A page of a conversation's messages, newest first (the unique (conversation_id, seq) index).
_page = (
    select(*_columns(_messages))
    .where(_messages.c.conversation_id == bindparam("conversation_id"))
    .order_by(_messages.c.seq.desc())
    .limit(bindparam("limit"))
)
MESSAGE_PAGE = _page
MESSAGE_PAGE_BEFORE = _page.where(_messages.c.seq < bindparam("seq"))

ATTACHMENTS_OF = (
    select(*_columns(_attachments))
    .where(_attachments.c.message_id.in_(bindparam("message_ids", expanding=True)))
    .order_by(_attachments.c.position, _attachments.c.created_at)
)

# An attachment, and whether the viewer is a member of its message's conversation (NULL message:
# a draft, no member): the access check of every download in one statement.
_viewer_is_member = (
    exists()
    .where(
        _members.c.conversation_id == _messages.c.conversation_id,
        _members.c.user_id == bindparam("viewer"),
    )
    .label("viewer_is_member")
)
_seen = select(*_columns(_attachments), _viewer_is_member).select_from(
    _attachments.outerjoin(_messages, _messages.c.id == _attachments.c.message_id)
)
SEEN_BY_ID = _seen.where(_attachments.c.id == bindparam("id"))
SEEN_BY_FILENAME = _seen.where(_attachments.c.filename == bindparam("filename"))

# A message's attachments, and whether the viewer is a member of its conversation: one row with
# NULL attachment columns for a message without any, none for an unknown message.
MEDIA_OF_MESSAGE_SEEN = (
    select(_viewer_is_member, *_columns(_attachments))
    .select_from(_messages.outerjoin(_attachments, _attachments.c.message_id == _messages.c.id))
    .where(_messages.c.id == bindparam("id"))
    .order_by(_attachments.c.position, _attachments.c.created_at)
)
