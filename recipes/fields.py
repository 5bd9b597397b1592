"""Which Graph message fields a set of recipes needs: the $select of the fetch, and nothing more.

Every condition and every placeholder maps to the one field it reads. The body (the costliest field, and
the most private) is asked for only when a recipe reads it: a body_contains condition, or {body} in a
template that can be rendered. Outgoing recipes read no email and add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from recipes.model import Conditions, CreateItemAction, CreateUpdateAction, EmailReceivedTrigger, Recipe
from recipes.templates import EMAIL_PLACEHOLDERS, placeholders

# Always: the headers and the subject, for the loop and automatic-reply checks (recipes.loops): Exchange's
# weaker automatic-reply markers count only together with an automatic-reply subject, so without the
# subject an out-of-office reply would become an item whenever no recipe reads the subject itself.
# internetMessageHeaders also carries In-Reply-To and References for reply threading.
ALWAYS = ("internetMessageHeaders", "subject")
# Reply threading ("replies": "update") keys an item by its conversation and its Message-ID.
THREADING = ("conversationId", "internetMessageId")


def condition_fields(conditions: Conditions) -> set[str]:
    fields: set[str] = set()
    if conditions.from_:
        fields.add("from")
    if conditions.to_contains:
        fields.add("toRecipients")
    if conditions.cc_contains:
        fields.add("ccRecipients")
    if conditions.subject_contains:
        fields.add("subject")
    if conditions.body_contains:
        fields.add("body")
    if conditions.has_attachments is not None:
        fields.add("hasAttachments")
    if conditions.importance:
        fields.add("importance")
    return fields


def templates_of(recipe: Recipe) -> list[str]:
    """The email templates the recipe's action can render (the reply update only when replies update)."""
    action = recipe.action
    if isinstance(action, CreateItemAction):
        found = [action.item_name, *action.columns.values()]
        if action.replies == "update":
            found.append(action.reply_update)
        return found
    if isinstance(action, CreateUpdateAction):
        return [action.find.value, action.body]
    return []


def recipe_fields(recipe: Recipe) -> set[str]:
    """The Graph fields one incoming recipe reads; none for an outgoing one."""
    if not isinstance(recipe.trigger, EmailReceivedTrigger):
        return set()
    fields = condition_fields(recipe.trigger.conditions)
    for template in templates_of(recipe):
        fields.update(EMAIL_PLACEHOLDERS[name] for name in placeholders(template))
    action = recipe.action
    if isinstance(action, CreateItemAction):
        if action.replies == "update":
            fields.update(THREADING)
        if action.attachments:
            fields.add("hasAttachments")
    return fields


def graph_fields_for(recipes: Sequence[Recipe]) -> list[str]:
    """Graph $select field names for matching and rendering these recipes, sorted, without duplicates."""
    fields = set(ALWAYS)
    for recipe in recipes:
        fields |= recipe_fields(recipe)
    return sorted(fields)


def needs_body_text(recipes: Sequence[Recipe]) -> bool:
    """Whether any recipe reads the body: the fetch then asks Graph for its text form."""
    return any("body" in recipe_fields(r) for r in recipes)
