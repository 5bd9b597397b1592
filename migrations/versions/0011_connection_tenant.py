"""connections remember the Microsoft tenant their mailbox signed in from (the id token's `tid`)

A notification naming a connection's subscription but another tenant is not Microsoft's: the webhook
drops it even when the deployment accepts mailboxes of many tenants (MS_AUTHORITY=common). Connections
made before this revision have no tenant recorded until they reconnect; for them only the single-tenant
check applies.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("tenant_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("tenant_id")
