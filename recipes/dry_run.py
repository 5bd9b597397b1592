"""What an incoming recipe would do with one email, said to the user (a dry run). Pure: what the board
holds (this conversation's item, the item an update would find) is looked up by the caller and passed in.

It applies the message path's rules in its order: mail this service sent and automatic replies are
skipped, then the conditions, then the action (a threaded reply becomes an update on its item).
"""

from __future__ import annotations

from typing import Any

from payloads.email import EmailFacts
from recipes.loops import is_automatic_reply, is_own_mail
from recipes.match import first_failed_condition
from recipes.model import CreateItemAction, CreateUpdateAction, Recipe
from recipes.render import render_create_item, render_update
from recipes.schemas import DryRunResult

OWN_MAIL = "sent by this service"
AUTOMATIC_REPLY = "automatic reply"


def skip_reason(recipe: Recipe, email: EmailFacts) -> str | None:
    """Why the recipe would not act on this email (a skip, or "condition <name> not met"); None: it
    matches."""
    if is_own_mail(email):
        return OWN_MAIL
    if is_automatic_reply(email):
        return AUTOMATIC_REPLY
    failed = first_failed_condition(recipe, email)
    return None if failed is None else f"condition {failed} not met"


def would_create(
    recipe: Recipe, email: EmailFacts, *, thread_item: str | None = None, found_item: str | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """(what would be written, why nothing would) for a matching email.

    `thread_item`: the name of the item this recipe already made for the email's conversation (replies
    become updates on it); `found_item`: the name of the item a create_update's find matches."""
    action = recipe.action
    if isinstance(action, CreateItemAction):
        rendered = render_create_item(action, email)
        if action.replies == "update" and thread_item is not None:
            return {
                "kind": "update",
                "description": "update on the item of this conversation",
                "item": thread_item,
                "body": rendered.reply_update,
                "missing": rendered.missing,
            }, None
        draft = rendered.draft
        return {
            "kind": "item",
            "description": f"item {draft.name!r} in group {draft.group!r}",
            "name": draft.name,
            "group": draft.group,
            "columns": draft.columns,
            "attachments": action.attachments,
            "missing": rendered.missing,
        }, None
    if isinstance(action, CreateUpdateAction):
        update = render_update(action, email)
        if found_item is None:
            return None, f"no item has {update.find_column} = {update.find_value!r}: nothing would be written"
        return {
            "kind": "update",
            "description": f"update on item {found_item}",
            "item": found_item,
            "body": update.body,
            "missing": update.missing,
        }, None
    return None, "an outgoing recipe does not act on email"


def evaluate(
    recipe: Recipe,
    email: EmailFacts,
    *,
    thread_item: str | None = None,
    found_item: str | None = None,
    already: str | None = None,
) -> DryRunResult:
    """`already`: what the recipe made of this very message when it was processed ("item", "update"):
    processing it again writes nothing (the ledger), so the dry run says so instead."""
    reason = skip_reason(recipe, email)
    if reason is not None:
        return DryRunResult(message_id=email.message_id, subject=email.subject, matched=False, reason=reason)
    if already is not None:
        return DryRunResult(
            message_id=email.message_id,
            subject=email.subject,
            matched=True,
            reason=f"already processed: this recipe made its {already} of this message; "
            "nothing more would be written",
        )
    made, why_not = would_create(recipe, email, thread_item=thread_item, found_item=found_item)
    return DryRunResult(
        message_id=email.message_id, subject=email.subject, matched=True, reason=why_not, would_create=made
    )
