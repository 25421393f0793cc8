"""event cursors in commit order: a one-row counter instead of the table's sequence

Revision ID: 5d0c1e7a9b21
Revises: b29406883c42
Create Date: 2026-12-07 07:20:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d0c1e7a9b21"
down_revision: str | None = "b29406883c42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_cursor",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_cursor")),
    )
    # The counter goes on from the newest cursor handed out so far, so no client's cursor repeats.
    op.execute("INSERT INTO event_cursor (id, last) SELECT 1, COALESCE(MAX(id), 0) FROM conversation_events")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # the table's sequence takes over where the counter was
        op.execute(
            "SELECT setval(pg_get_serial_sequence('conversation_events', 'id'), last) "
            "FROM event_cursor WHERE last > 0"
        )
    op.drop_table("event_cursor")
