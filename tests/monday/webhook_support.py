"""Rows the monday.com webhook tests need: an outgoing recipe on a monday board and its webhook's row
(with a secret of the shape triggers.py makes), and monday.com's event payloads."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import Engine, func, select

from boards.monday.inbound import secret_hash
from db.accounts import User
from db.board_events import BoardEvent
from db.engine import session_scope
from db.monday_webhooks import MondayWebhook
from recipes import store
from recipes.model import RecipeSpec
from tests.recipes.support import add_connection

MONDAY_BOARD = "1000000001"


def outgoing_spec(
    board_id: str = MONDAY_BOARD, column: str | None = "Status", to: str | None = "Done"
) -> RecipeSpec:
    trigger: dict[str, Any] = {"type": "item_created", "source": "monday", "board_id": board_id}
    if column is not None:
        trigger = {"type": "column_changed", "source": "monday", "board_id": board_id, "column": column}
        if to is not None:
            trigger["to"] = to
    return RecipeSpec.model_validate(
        {"trigger": trigger, "action": {"type": "send_email", "to": "a@customer.example", "subject": "Done"}}
    )


def add_recipe(
    engine: Engine,
    user_id: uuid.UUID,
    spec: RecipeSpec,
    *,
    connection_id: str | None = None,
    enabled: bool = True,
    name: str = "Tell the customer",
) -> uuid.UUID:
    """An outgoing recipe row (on a new connection of the user's unless one is given)."""
    connection = connection_id or add_connection(engine, user_id, scopes="User.Read Mail.Send")
    with session_scope(engine) as session:
        row = store.add_recipe(
            session,
            connection_id=uuid.UUID(connection),
            owner_id=user_id,
            name=name,
            enabled=enabled,
            spec=spec,
        )
        session.flush()
        return row.id


def add_webhook_row(
    engine: Engine, user_id: uuid.UUID, recipe_id: uuid.UUID, board_id: str = MONDAY_BOARD
) -> str:
    """The recipe's monday_webhooks row, as triggers.py writes it; returns the URL's secret."""
    secret = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        account_id = session.get_one(User, user_id).account_id
        session.add(
            MondayWebhook(
                id=uuid.uuid4(),
                recipe_id=recipe_id,
                account_id=account_id,
                monday_board_id=board_id,
                event="change_specific_column_value",
                column_id="status",
                secret_hash=secret_hash(secret),
                monday_webhook_id="2000000001",
            )
        )
    return secret


def status_event(
    board_id: str = MONDAY_BOARD,
    item_id: int = 3000000001,
    label: str = "Done",
    previous: str | None = "Working on it",
    title: str = "Status",
    trigger_uuid: str | None = None,
) -> dict[str, Any]:
    """An update_column_value delivery for a status column, in monday.com's shape."""

    def value(text: str | None) -> dict[str, Any] | None:
        return None if text is None else {"label": {"index": 1, "text": text, "style": {}}, "post_id": None}

    return {
        "event": {
            "app": "monday",
            "type": "update_column_value",
            "triggerTime": "2026-12-06T10:00:00.000Z",
            "subscriptionId": 2000000001,
            "userId": 4012689,
            "originalTriggerUuid": None,
            "boardId": int(board_id),
            "groupId": "topics",
            "pulseId": item_id,
            "pulseName": "Invoice 8812",
            "columnId": "status",
            "columnType": "color",
            "columnTitle": title,
            "value": value(label),
            "previousValue": value(previous),
            "changedAt": 1796551200.5,
            "isTopGroup": True,
            "triggerUuid": trigger_uuid or uuid.uuid4().hex,
        }
    }


def created_event(board_id: str = MONDAY_BOARD, item_id: int = 3000000002) -> dict[str, Any]:
    return {
        "event": {
            "app": "monday",
            "type": "create_pulse",
            "boardId": int(board_id),
            "pulseId": item_id,
            "pulseName": "New one",
            "groupId": "topics",
            "groupName": "New",
            "columnValues": {},
            "triggerUuid": uuid.uuid4().hex,
        }
    }


def board_events(engine: Engine) -> list[BoardEvent]:
    with session_scope(engine) as session:
        rows = list(session.scalars(select(BoardEvent).order_by(BoardEvent.created_at)))
        session.expunge_all()
        return rows


def webhook_rows(engine: Engine) -> list[MondayWebhook]:
    with session_scope(engine) as session:
        rows = list(session.scalars(select(MondayWebhook)))
        session.expunge_all()
        return rows


def count_events(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(BoardEvent)) or 0
