"""webhook outbox: acknowledged notifications waiting to be signalled to their connection's workflow

Revision ID: 0005_webhook_outbox
Revises: 0004_mail_sync_state
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_webhook_outbox"
down_revision: str | None = "0004_mail_sync_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_outbox",
        # INTEGER on SQLite: only INTEGER PRIMARY KEY autoincrements there (as the model declares).
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("message_ids", sa.Text(), nullable=True),
        sa.Column("lifecycle_event", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('change', 'lifecycle')", name=op.f("ck_webhook_outbox_kind")),
        sa.CheckConstraint(
            "(kind = 'change' AND message_ids IS NOT NULL AND lifecycle_event IS NULL)"
            " OR (kind = 'lifecycle' AND lifecycle_event IS NOT NULL AND message_ids IS NULL)",
            name=op.f("ck_webhook_outbox_payload"),
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_webhook_outbox_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
    )
    op.create_index(op.f("ix_webhook_outbox_connection_id"), "webhook_outbox", ["connection_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_outbox_connection_id"), table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
