"""attachments marked unscanned: stored while the malware scanner did not answer (SCAN_FAIL=open)

Revision ID: a7c4e2f19d36
Revises: 8f3a2c6d1e47
Create Date: 2026-12-07 12:20:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c4e2f19d36"
down_revision: str | None = "8f3a2c6d1e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows written before scanning existed are not marked: the sweep rescans only what an outage let in.


def upgrade() -> None:
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unscanned", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        "ix_media_attachments_unscanned",
        "media_attachments",
        ["id"],
        unique=False,
        sqlite_where=sa.text("unscanned"),
        postgresql_where=sa.text("unscanned"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_media_attachments_unscanned",
        table_name="media_attachments",
        sqlite_where=sa.text("unscanned"),
        postgresql_where=sa.text("unscanned"),
    )
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.drop_column("unscanned")
