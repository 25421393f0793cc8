"""drafts: attachments without a message

Revision ID: 764b8aae2d21
Revises: e561ce6fb754
Create Date: 2026-11-25 18:29:26.240211+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
from alembic import op

revision: str = "764b8aae2d21"
down_revision: str | None = "e561ce6fb754"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.alter_column(
            "message_id", existing_type=advanced_alchemy.types.guid.GUID(length=16), nullable=True
        )
        batch_op.create_index(batch_op.f("ix_media_attachments_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    # Drafts have no message to belong to: they go, as the sweeper would have taken them.
    op.execute("DELETE FROM media_attachments WHERE message_id IS NULL")
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_attachments_created_at"))
        batch_op.alter_column(
            "message_id", existing_type=advanced_alchemy.types.guid.GUID(length=16), nullable=False
        )
