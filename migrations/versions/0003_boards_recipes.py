"""boards, groups, columns, items, updates, recipe ledger, recipes, message outcomes

Revision ID: 0003_boards_recipes
Revises: 0002_connections
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_boards_recipes"
down_revision: str | None = "0002_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _board_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["board_id"], ["boards.id"], name=op.f(f"fk_{table}_board_id_boards"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_boards_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boards")),
    )
    op.create_index(op.f("ix_boards_account_id"), "boards", ["account_id"])
    op.create_table(
        "board_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _board_fk("board_groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_groups")),
        sa.UniqueConstraint("board_id", "title", name="uq_board_groups_board_id_title"),
    )
    op.create_index(op.f("ix_board_groups_board_id"), "board_groups", ["board_id"])
    op.create_table(
        "board_columns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "type IN ('text', 'long_text', 'email', 'date', 'status', 'link')",
            name=op.f("ck_board_columns_column_type"),
        ),
        _board_fk("board_columns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_columns")),
        sa.UniqueConstraint("board_id", "title", name="uq_board_columns_board_id_title"),
    )
    op.create_index(op.f("ix_board_columns_board_id"), "board_columns", ["board_id"])
    op.create_table(
        "board_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("column_values", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _board_fk("board_items"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["board_groups.id"],
            name=op.f("fk_board_items_group_id_board_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_items")),
    )
    op.create_index(op.f("ix_board_items_board_id"), "board_items", ["board_id"])
    op.create_index(op.f("ix_board_items_group_id"), "board_items", ["group_id"])
    op.create_table(
        "item_updates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["board_items.id"],
            name=op.f("fk_item_updates_item_id_board_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_updates")),
    )
    op.create_index(op.f("ix_item_updates_item_id"), "item_updates", ["item_id"])
    op.create_table(
        "recipe_ledger",
        sa.Column("recipe_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=512), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('item', 'update')", name=op.f("ck_recipe_ledger_kind")),
        sa.PrimaryKeyConstraint("recipe_id", "message_id", name=op.f("pk_recipe_ledger")),
    )
    op.create_index(op.f("ix_recipe_ledger_connection_id"), "recipe_ledger", ["connection_id"])
    op.create_table(
        "recipes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_recipes_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_recipes_owner_id_users"), ondelete="CASCADE"
        ),
        _board_fk("recipes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipes")),
    )
    op.create_index(op.f("ix_recipes_connection_id"), "recipes", ["connection_id"])
    op.create_index(op.f("ix_recipes_owner_id"), "recipes", ["owner_id"])
    op.create_index(op.f("ix_recipes_board_id"), "recipes", ["board_id"])
    op.create_table(
        "message_outcomes",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=512), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("items_created", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('processed', 'skipped', 'failed')", name=op.f("ck_message_outcomes_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_message_outcomes_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "message_id", name=op.f("pk_message_outcomes")),
    )
    op.create_index(
        "ix_message_outcomes_connection_id_recorded_at",
        "message_outcomes",
        ["connection_id", "recorded_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_message_outcomes_connection_id_recorded_at", table_name="message_outcomes")
    op.drop_table("message_outcomes")
    for index in ("ix_recipes_board_id", "ix_recipes_owner_id", "ix_recipes_connection_id"):
        op.drop_index(op.f(index), table_name="recipes")
    op.drop_table("recipes")
    op.drop_index(op.f("ix_recipe_ledger_connection_id"), table_name="recipe_ledger")
    op.drop_table("recipe_ledger")
    op.drop_index(op.f("ix_item_updates_item_id"), table_name="item_updates")
    op.drop_table("item_updates")
    op.drop_index(op.f("ix_board_items_group_id"), table_name="board_items")
    op.drop_index(op.f("ix_board_items_board_id"), table_name="board_items")
    op.drop_table("board_items")
    op.drop_index(op.f("ix_board_columns_board_id"), table_name="board_columns")
    op.drop_table("board_columns")
    op.drop_index(op.f("ix_board_groups_board_id"), table_name="board_groups")
    op.drop_table("board_groups")
    op.drop_index(op.f("ix_boards_account_id"), table_name="boards")
    op.drop_table("boards")
