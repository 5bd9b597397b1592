"""catch-up calls numbered: where the last call started, so a call whose result was lost is redone

Revision ID: 0006_sync_state_calls
Revises: 0005_webhook_outbox
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sync_state_calls"
down_revision: str | None = "0005_webhook_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_sync_state") as batch:
        batch.add_column(sa.Column("last_call", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("previous_link", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_sync_state") as batch:
        batch.drop_column("previous_link")
        batch.drop_column("last_call")
