"""delta sync state per connection and folder

Revision ID: 0004_mail_sync_state
Revises: 0003_boards_recipes
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_mail_sync_state"
down_revision: str | None = "0003_boards_recipes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_sync_state",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("folder", sa.String(length=64), nullable=False),
        sa.Column("delta_link", sa.Text(), nullable=True),
        sa.Column("resume_link", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_mail_sync_state_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "folder", name=op.f("pk_mail_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("mail_sync_state")
