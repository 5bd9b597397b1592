"""who may create integrations (an account setting, with its listed users), board ownership and
visibility, and an optional expiry for API tokens

Boards made before this revision had no owner and every member of the account saw them: they become
`account` boards without an owner, so nobody loses a board they used. New boards are `private` to the
member who makes them unless made `account`.

Revision ID: 0009
Revises: 0008_monday_triggers
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008_monday_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_permissions",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("create_integrations", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "create_integrations IN ('everyone', 'admins', 'users')",
            name=op.f("ck_account_permissions_create_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_permissions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_permissions")),
    )
    op.create_table(
        "integration_creators",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account_permissions.account_id"],
            name=op.f("fk_integration_creators_account_id_account_permissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_integration_creators_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "user_id", name=op.f("pk_integration_creators")),
    )
    op.create_index(op.f("ix_integration_creators_user_id"), "integration_creators", ["user_id"])
    with op.batch_alter_table("boards") as batch:
        batch.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("visibility", sa.String(length=10), server_default="private", nullable=False)
        )
        batch.create_foreign_key(
            op.f("fk_boards_owner_id_users"), "users", ["owner_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_boards_owner_id"), ["owner_id"])
        batch.create_check_constraint(op.f("ck_boards_visibility"), "visibility IN ('private', 'account')")
    op.execute("UPDATE boards SET visibility = 'account'")
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("boards") as batch:
        batch.drop_constraint(op.f("ck_boards_visibility"), type_="check")
        batch.drop_index(op.f("ix_boards_owner_id"))
        batch.drop_constraint(op.f("fk_boards_owner_id_users"), type_="foreignkey")
        batch.drop_column("visibility")
        batch.drop_column("owner_id")
    op.drop_index(op.f("ix_integration_creators_user_id"), table_name="integration_creators")
    op.drop_table("integration_creators")
    op.drop_table("account_permissions")
