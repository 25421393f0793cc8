"""The contract's WebSocket frames: a logged event rendered as JSON text, and the service's own
control frames (`ready`, `ping`)."""

from __future__ import annotations

from typing import Any

import msgspec

from application.events import Logged, MediaAttached, MediaDeleted, MessageCreated, MessageDeleted
from entrypoints.http.schemas import attachment_out, message_out

_encoder = msgspec.json.Encoder()


def render(logged: Logged) -> bytes:
    event = logged.event
    frame: dict[str, Any] = {
        "conversation_id": event.conversation_id,
        "seq": event.seq,
        "cursor": logged.cursor,
    }
    match event:
        case MessageCreated():
            frame |= {"type": "message.created", "message": message_out(event.message, event.attachments)}
        case MediaAttached():
            frame |= {
                "type": "media.attached",
                "message_id": event.message_id,
                "attachments": [attachment_out(a) for a in event.attachments],
            }
        case MediaDeleted():
            frame |= {
                "type": "media.deleted",
                "message_id": event.message_id,
                "media_id": event.media_id,
                "has_media": event.has_media,
            }
        case MessageDeleted():
            frame |= {"type": "message.deleted", "message_id": event.message_id}
    return _encoder.encode(frame)


def ready(cursor: int) -> bytes:
    return _encoder.encode({"type": "ready", "cursor": cursor})


PING = _encoder.encode({"type": "ping"})
