"""number and status-label columns, board events, reply threads, item files, the send ledger, monday.com
accounts; a recipe's built-in board becomes optional (monday.com destinations have none here)

Revision ID: 0007_recipes_outgoing
Revises: 0006_sync_state_calls
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_recipes_outgoing"
down_revision: str | None = "0006_sync_state_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_TYPES = "type IN ('text', 'long_text', 'email', 'date', 'status', 'link')"
_NEW_TYPES = "type IN ('text', 'long_text', 'email', 'date', 'status', 'number', 'link')"


def upgrade() -> None:
    with op.batch_alter_table("board_columns") as batch:
        batch.drop_constraint(op.f("ck_board_columns_column_type"), type_="check")
        batch.create_check_constraint(op.f("ck_board_columns_column_type"), _NEW_TYPES)
        batch.add_column(sa.Column("settings", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("recipes") as batch:
        batch.alter_column("board_id", existing_type=sa.Uuid(), nullable=True)
    with op.batch_alter_table("message_outcomes") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(length=10), nullable=False, server_default="incoming")
        )
        batch.add_column(sa.Column("details", sa.Text(), nullable=True))
    op.create_table(
        "board_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('item_created', 'column_changed')", name=op.f("ck_board_events_kind")),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_board_events_board_id_boards"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_events")),
    )
    op.create_index(op.f("ix_board_events_board_id"), "board_events", ["board_id"])
    op.create_index("ix_board_events_pending", "board_events", ["forwarded_at", "created_at"])
    op.create_table(
        "item_threads",
        sa.Column("recipe_id", sa.String(length=64), nullable=False),
        sa.Column("thread_key", sa.String(length=600), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("recipe_id", "thread_key", name=op.f("pk_item_threads")),
    )
    op.create_table(
        "item_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["board_items.id"],
            name=op.f("fk_item_files_item_id_board_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_files")),
    )
    op.create_index(op.f("ix_item_files_item_id"), "item_files", ["item_id"])
    op.create_table(
        "outgoing_sends",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("recipe_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("internet_message_id", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('attempted', 'sent', 'unknown', 'failed')", name=op.f("ck_outgoing_sends_state")
        ),
        sa.PrimaryKeyConstraint("event_id", "recipe_id", name=op.f("pk_outgoing_sends")),
        sa.UniqueConstraint("internet_message_id", name=op.f("uq_outgoing_sends_internet_message_id")),
    )
    op.create_index(op.f("ix_outgoing_sends_connection_id"), "outgoing_sends", ["connection_id"])
    op.create_table(
        "monday_accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("api_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_monday_accounts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_monday_accounts")),
    )


def downgrade() -> None:
    op.drop_table("monday_accounts")
    op.drop_index(op.f("ix_outgoing_sends_connection_id"), table_name="outgoing_sends")
    op.drop_table("outgoing_sends")
    op.drop_index(op.f("ix_item_files_item_id"), table_name="item_files")
    op.drop_table("item_files")
    op.drop_table("item_threads")
    op.drop_index("ix_board_events_pending", table_name="board_events")
    op.drop_index(op.f("ix_board_events_board_id"), table_name="board_events")
    op.drop_table("board_events")
    with op.batch_alter_table("message_outcomes") as batch:
        batch.drop_column("details")
        batch.drop_column("direction")
    op.execute("DELETE FROM recipes WHERE board_id IS NULL")
    with op.batch_alter_table("recipes") as batch:
        batch.alter_column("board_id", existing_type=sa.Uuid(), nullable=False)
    op.execute("DELETE FROM board_columns WHERE type = 'number'")
    with op.batch_alter_table("board_columns") as batch:
        batch.drop_column("settings")
        batch.drop_constraint(op.f("ck_board_columns_column_type"), type_="check")
        batch.create_check_constraint(op.f("ck_board_columns_column_type"), _OLD_TYPES)
