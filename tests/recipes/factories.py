"""Recipes and emails for the pure tests, built through the real models (so validation runs too)."""

from __future__ import annotations

import uuid
from typing import Any

from recipes.email import EmailFacts
from recipes.model import Recipe

BOARD_ID = str(uuid.UUID(int=1))


def recipe(
    *,
    senders: list[str] | None = None,
    words: list[str] | None = None,
    item_name: str = "{subject}",
    columns: dict[str, str] | None = None,
    conditions: dict[str, Any] | None = None,
    action: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    **create_item: Any,
) -> Recipe:
    """An incoming create_item recipe by default; `conditions` adds conditions, `create_item` fields
    (replies, reply_update, attachments) go on the action; `action`/`trigger` replace them whole."""
    return Recipe.model_validate(
        {
            "id": "r1",
            "connection_id": "c1",
            "owner_id": "u1",
            "name": "test",
            "enabled": True,
            "trigger": trigger
            or {
                "type": "email_received",
                "folder": "inbox",
                "conditions": {"from": senders or [], "subject_contains": words or [], **(conditions or {})},
            },
            "action": action
            or {
                "type": "create_item",
                "board_id": BOARD_ID,
                "group": "New",
                "item_name": item_name,
                "columns": columns or {},
                **create_item,
            },
        }
    )


def email(**facts: Any) -> EmailFacts:
    return EmailFacts(
        **{"message_id": "m1", "subject": "Need help", "from_address": "a@customer.example", **facts}
    )
