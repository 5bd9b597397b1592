"""monday.com board events (board_events may name a monday board, item and column, and the recipe whose
webhook delivered it) and the monday webhooks the service registered

Revision ID: 0008_monday_triggers
Revises: 0007_recipes_outgoing
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_monday_triggers"
down_revision: str | None = "0007_recipes_outgoing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE = (
    "(board_id IS NOT NULL AND item_id IS NOT NULL AND monday_board_id IS NULL) OR "
    "(board_id IS NULL AND monday_board_id IS NOT NULL AND monday_item_id IS NOT NULL "
    "AND recipe_id IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("board_events") as batch:
        batch.alter_column("board_id", existing_type=sa.Uuid(), nullable=True)
        batch.alter_column("item_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("monday_board_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("monday_item_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("monday_column_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("recipe_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("delivery_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            op.f("fk_board_events_recipe_id_recipes"), "recipes", ["recipe_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(op.f("ix_board_events_recipe_id"), ["recipe_id"])
        batch.create_unique_constraint(op.f("uq_board_events_delivery_id"), ["delivery_id"])
        batch.create_check_constraint(op.f("ck_board_events_source"), _SOURCE)
    op.create_table(
        "monday_webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipe_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("monday_board_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("column_id", sa.String(length=100), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("monday_webhook_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_monday_webhooks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monday_webhooks")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_monday_webhooks_secret_hash")),
    )
    op.create_index(op.f("ix_monday_webhooks_recipe_id"), "monday_webhooks", ["recipe_id"])
    op.create_index(op.f("ix_monday_webhooks_account_id"), "monday_webhooks", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_monday_webhooks_account_id"), table_name="monday_webhooks")
    op.drop_index(op.f("ix_monday_webhooks_recipe_id"), table_name="monday_webhooks")
    op.drop_table("monday_webhooks")
    op.execute("DELETE FROM board_events WHERE board_id IS NULL")
    with op.batch_alter_table("board_events") as batch:
        batch.drop_constraint(op.f("ck_board_events_source"), type_="check")
        batch.drop_constraint(op.f("uq_board_events_delivery_id"), type_="unique")
        batch.drop_index(op.f("ix_board_events_recipe_id"))
        batch.drop_constraint(op.f("fk_board_events_recipe_id_recipes"), type_="foreignkey")
        batch.drop_column("delivery_id")
        batch.drop_column("recipe_id")
        batch.drop_column("monday_column_id")
        batch.drop_column("monday_item_id")
        batch.drop_column("monday_board_id")
        batch.alter_column("item_id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("board_id", existing_type=sa.Uuid(), nullable=False)
