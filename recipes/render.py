"""Recipe + email -> the item to write: templates filled in, lengths kept within what boards hold."""

from __future__ import annotations

import re
from datetime import UTC

from boards.draft import ItemDraft
from payloads.email import EmailFacts
from recipes.model import Recipe
from recipes.templates import render

__all__ = ["ItemDraft", "placeholder_values", "render_item", "truncate"]

NAME_MAX = 255
VALUE_MAX = 10_000
NO_SUBJECT = "(no subject)"


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def placeholder_values(email: EmailFacts) -> dict[str, str]:
    received = ""
    if email.received_at is not None:
        when = email.received_at if email.received_at.tzinfo else email.received_at.replace(tzinfo=UTC)
        received = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "subject": email.subject,
        "from.address": email.from_address,
        "from.name": email.from_name or email.from_address,
        "received_at": received,
        "preview": email.preview,
        "body": email.body_text,
        "to": ", ".join(email.to),
        "conversation_id": email.conversation_id,
    }


def render_item(recipe: Recipe, email: EmailFacts) -> ItemDraft:
    values = placeholder_values(email)
    # An item name is one line.
    name = re.sub(r"\s+", " ", render(recipe.action.item_name, values)).strip()
    return ItemDraft(
        name=truncate(name, NAME_MAX) or NO_SUBJECT,
        group=recipe.action.group,
        columns={
            title: truncate(render(template, values), VALUE_MAX)
            for title, template in recipe.action.columns.items()
        },
    )
