"""Recipe + facts -> what to write or send: templates filled in, lengths kept within what boards and mail
hold, and the placeholders that rendered empty (`missing`, for the activity log). Pure.

Incoming actions render from an email (EmailFacts); send_email renders from a board item's values, a
plain dict: {"name", "board", "group", "item.id", "old_value", "new_value", "column:<Title>", ...}.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC

from pydantic import BaseModel, Field

from boards.draft import ItemDraft
from payloads.email import EmailFacts
from recipes.model import CreateItemAction, CreateUpdateAction, Recipe, SendEmailAction
from recipes.templates import render

__all__ = [
    "ItemDraft",
    "RenderedEmail",
    "RenderedItem",
    "RenderedUpdate",
    "placeholder_values",
    "render_create_item",
    "render_email",
    "render_item",
    "render_update",
    "split_addresses",
    "truncate",
]

NAME_MAX = 255
VALUE_MAX = 10_000
SUBJECT_MAX = 255
BODY_MAX = 100_000
MAX_RECIPIENTS = 50
NO_SUBJECT = "(no subject)"

# A plain addr-spec: what a recipient field may hold after rendering. No display names, no spaces, one
# "@", a dot in the domain: anything else is dropped (and reported) rather than sent somewhere odd.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class RenderedItem(BaseModel):
    draft: ItemDraft
    # The update a reply in this item's conversation becomes ("replies": "update").
    reply_update: str
    missing: list[str] = Field(default_factory=list)
    # The same, apart: what the item's own templates lacked, and what the reply update's lacked.
    item_missing: list[str] = Field(default_factory=list)
    reply_missing: list[str] = Field(default_factory=list)


class RenderedUpdate(BaseModel):
    # The item the update goes on: the oldest whose `find_column` equals `find_value`.
    find_column: str
    find_value: str
    body: str
    missing: list[str] = Field(default_factory=list)


class RenderedEmail(BaseModel):
    subject: str
    body: str
    # Valid addresses, deduplicated (ignoring case), in the order written.
    to: list[str]
    # What the `to` template rendered that is not an address: dropped, reported (never sent to).
    invalid_recipients: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


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
        "cc": ", ".join(email.cc),
        "importance": email.importance,
        "conversation_id": email.conversation_id,
        "link": email.web_link,
    }


def _create_item_action(recipe: Recipe | CreateItemAction) -> CreateItemAction:
    action = recipe if isinstance(recipe, CreateItemAction) else recipe.action
    if not isinstance(action, CreateItemAction):
        raise TypeError(f"render_item needs a create_item action, not {action.type}")
    return action


def render_create_item(recipe: Recipe | CreateItemAction, email: EmailFacts) -> RenderedItem:
    """The item a create_item action makes of this email, and the update a reply would become."""
    action = _create_item_action(recipe)
    values = placeholder_values(email)
    item_missing: list[str] = []
    # An item name is one line.
    name = _one_line(render(action.item_name, values, item_missing))
    draft = ItemDraft(
        name=truncate(name, NAME_MAX) or NO_SUBJECT,
        group=action.group,
        columns={
            title: truncate(render(template, values, item_missing), VALUE_MAX)
            for title, template in action.columns.items()
        },
    )
    reply_missing: list[str] = []
    reply = truncate(render(action.reply_update, values, reply_missing), VALUE_MAX)
    missing = item_missing + [m for m in reply_missing if m not in item_missing]
    return RenderedItem(
        draft=draft,
        reply_update=reply,
        missing=missing,
        item_missing=item_missing,
        reply_missing=reply_missing,
    )


def render_item(
    recipe: Recipe | CreateItemAction, email: EmailFacts, missing: list[str] | None = None
) -> ItemDraft:
    """The item's draft alone (the message step's original call); `missing` collects empty fields."""
    rendered = render_create_item(recipe, email)
    if missing is not None:
        missing.extend(name for name in rendered.missing if name not in missing)
    return rendered.draft


def render_update(recipe: Recipe | CreateUpdateAction, email: EmailFacts) -> RenderedUpdate:
    """The item to find (column and the value it must equal) and the update's body."""
    action = recipe if isinstance(recipe, CreateUpdateAction) else recipe.action
    if not isinstance(action, CreateUpdateAction):
        raise TypeError(f"render_update needs a create_update action, not {action.type}")
    values = placeholder_values(email)
    missing: list[str] = []
    find_value = _one_line(render(action.find.value, values, missing))
    body = truncate(render(action.body, values, missing), VALUE_MAX)
    return RenderedUpdate(find_column=action.find.column, find_value=find_value, body=body, missing=missing)


def split_addresses(text: str) -> tuple[list[str], list[str]]:
    """(valid addresses deduplicated ignoring case, invalid entries) of a "a@x.example; b@y.example"
    list separated by commas or semicolons; empty entries are skipped."""
    valid: list[str] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for entry in re.split(r"[,;]", text):
        address = entry.strip()
        if not address:
            continue
        if not _ADDRESS.fullmatch(address) or len(address) > 320:
            invalid.append(truncate(address, 100))
            continue
        if address.casefold() not in seen:
            seen.add(address.casefold())
            valid.append(address)
    return valid, invalid


def render_email(recipe: Recipe | SendEmailAction, item: Mapping[str, str]) -> RenderedEmail:
    """The email a send_email action sends for a board item (values as described in the module doc).
    `to` may be empty (every recipient missing or invalid): the caller then sends nothing and logs why."""
    action = recipe if isinstance(recipe, SendEmailAction) else recipe.action
    if not isinstance(action, SendEmailAction):
        raise TypeError(f"render_email needs a send_email action, not {action.type}")
    missing: list[str] = []
    to, invalid = split_addresses(render(action.to, item, missing))
    subject = truncate(_one_line(render(action.subject, item, missing)), SUBJECT_MAX) or NO_SUBJECT
    body = truncate(render(action.body, item, missing), BODY_MAX)
    return RenderedEmail(
        subject=subject,
        body=body,
        to=to[:MAX_RECIPIENTS],
        invalid_recipients=invalid,
        missing=missing,
    )
