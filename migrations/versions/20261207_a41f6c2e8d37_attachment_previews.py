"""attachment previews: the hash of a display-size WebP stored beside a large image

Revision ID: a41f6c2e8d37
Revises: a84fbe60da8c
Create Date: 2026-12-07 12:45:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a41f6c2e8d37"
down_revision: str | None = "a84fbe60da8c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Nullable: rows written before previews have none, and neither have small images or documents.


def upgrade() -> None:
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.drop_column("preview_sha256")
