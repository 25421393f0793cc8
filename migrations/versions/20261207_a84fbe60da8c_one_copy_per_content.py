"""one copy per content: stored_contents, counted, and the attachments' content_name

Revision ID: a84fbe60da8c
Revises: a7c4e2f19d36
Create Date: 2026-12-07 12:22:39.365821+00:00
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "a84fbe60da8c"
down_revision: str | None = "a7c4e2f19d36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_contents = sa.table(
    "stored_contents",
    sa.column("id", advanced_alchemy.types.guid.GUID(length=16)),
    sa.column("sha256", sa.String(64)),
    sa.column("name", sa.String(64)),
    sa.column("size", sa.BigInteger()),
    sa.column("refs", sa.Integer()),
)


def upgrade() -> None:
    op.create_table(
        "stored_contents",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("refs", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_contents")),
        sa.UniqueConstraint("name", name=op.f("uq_stored_contents_name")),
        sa.UniqueConstraint("sha256", name=op.f("uq_stored_contents_sha256")),
    )
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_name", sa.String(length=64), nullable=True))
    # Backfill, moving no file: one content per sha256, stored as the first of its files by name,
    # counted once per attachment of those bytes. Each attachment's own file is where its bytes
    # are until now; the copies this leaves unnamed (the same bytes uploaded twice before) are
    # leftovers that the orphan sweep removes after its grace period.
    bind = op.get_bind()
    groups = bind.execute(
        sa.text("SELECT sha256, MIN(filename), MAX(size), COUNT(*) FROM media_attachments GROUP BY sha256")
    ).all()
    if groups:
        op.bulk_insert(
            _contents,
            [
                {"id": uuid.uuid4(), "sha256": sha, "name": name, "size": size, "refs": count}
                for sha, name, size, count in groups
            ],
        )
    op.execute(
        "UPDATE media_attachments SET content_name = "
        "(SELECT name FROM stored_contents WHERE stored_contents.sha256 = media_attachments.sha256)"
    )
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.alter_column("content_name", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    # Each attachment's bytes are named by its own filename again: a downgrade after the orphan
    # sweep removed the duplicates (or after uploads that shared a copy) leaves those rows
    # without their file. Copy each content to its attachments' names first where that matters.
    with op.batch_alter_table("media_attachments", schema=None) as batch_op:
        batch_op.drop_column("content_name")
    op.drop_table("stored_contents")
