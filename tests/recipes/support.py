"""Rows the board, recipe and activity tests need: connections, boards and recipes in a real database."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from boards import service as boards
from boards.schemas import BoardCreate, BoardPublic
from db.accounts import User
from db.connections import Connection
from db.engine import session_scope
from db.recipes import RecipeRow
from recipes import store
from recipes.schemas import RecipeCreate

SUPPORT_BOARD = {
    "name": "Support",
    "groups": ["New"],
    "columns": [
        {"title": "From", "type": "email"},
        {"title": "Received", "type": "date"},
        {"title": "Preview", "type": "long_text"},
    ],
}


def recipe_body(connection_id: str, board_id: str) -> dict[str, Any]:
    """The issue's POST /api/recipes body, verbatim but for the ids."""
    return {
        "connection_id": connection_id,
        "name": "Support mail",
        "trigger": {
            "type": "email_received",
            "folder": "inbox",
            "conditions": {"from": ["*@customer.example"], "subject_contains": ["help"]},
        },
        "action": {
            "type": "create_item",
            "board_id": board_id,
            "group": "New",
            "item_name": "{subject}",
            "columns": {"From": "{from.address}", "Received": "{received_at}", "Preview": "{preview}"},
        },
    }


def add_connection(
    engine: Engine,
    user_id: uuid.UUID,
    mailbox: str = "me@acme.example",
    scopes: str = "User.Read Mail.Read",
    status: str = "active",
) -> str:
    """A connection row (no tokens in Vault): granted `scopes`, as the consent would have stored them."""
    with session_scope(engine) as session:
        user = session.get_one(User, user_id)
        row = Connection(
            account_id=user.account_id, owner_id=user.id, mailbox=mailbox, status=status, scopes=scopes
        )
        session.add(row)
        session.flush()
        return str(row.id)


def add_board(engine: Engine, user_id: uuid.UUID, body: dict[str, Any] | None = None) -> BoardPublic:
    """A board owned by the user (private unless the body says "visibility": "account")."""
    with session_scope(engine) as session:
        user = session.get_one(User, user_id)
        return boards.create_board(
            session, user.account_id, BoardCreate.model_validate(body or SUPPORT_BOARD), owner_id=user.id
        )


def add_enabled_recipe(session: Session, owner_id: uuid.UUID, body: dict[str, Any]) -> RecipeRow:
    """An enabled recipe row straight in the store, from a POST /api/recipes body (checked as the API
    checks it), without the API's side effects (no workflow told, no monday.com webhook)."""
    created = RecipeCreate.model_validate(body)
    return store.add_recipe(
        session,
        connection_id=created.connection_id,
        owner_id=owner_id,
        name=created.name,
        enabled=True,
        spec=created.spec(),
    )
