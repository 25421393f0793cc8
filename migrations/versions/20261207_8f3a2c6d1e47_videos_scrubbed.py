"""videos scrubbed: whether a video's stored file is the remux without the source's tags

Revision ID: 8f3a2c6d1e47
Revises: 5d0c1e7a9b21
Create Date: 2026-12-07 12:40:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f3a2c6d1e47"
down_revision: str | None = "5d0c1e7a9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Videos stored before the remux existed were kept as they came: False says so. NULL elsewhere.
    with op.batch_alter_table("media_attachments") as batch_op:
        batch_op.add_column(sa.Column("scrubbed", sa.Boolean(), nullable=True))
    op.execute("UPDATE media_attachments SET scrubbed = false WHERE kind = 'video'")


def downgrade() -> None:
    with op.batch_alter_table("media_attachments") as batch_op:
        batch_op.drop_column("scrubbed")
