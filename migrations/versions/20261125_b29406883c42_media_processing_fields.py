"""media processing fields: dimensions, duration, blurhash, thumbnail

Revision ID: b29406883c42
Revises: c2ddcf3639c6
Create Date: 2026-11-25 18:38:59.293728+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b29406883c42"
down_revision: str | None = "c2ddcf3639c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column is nullable: rows written before media processing simply know none of it.


def upgrade() -> None:
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("height", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duration_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("blurhash", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("thumbnail_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.drop_column("thumbnail_sha256")
        batch_op.drop_column("blurhash")
        batch_op.drop_column("duration_s")
        batch_op.drop_column("height")
        batch_op.drop_column("width")
