"""Which Graph message fields a set of recipes needs: the $select of the fetch, and nothing more."""

from __future__ import annotations

from collections.abc import Sequence

from recipes.model import Recipe
from recipes.templates import PLACEHOLDERS, placeholders

# Always: the headers and the subject, for the loop and automatic-reply checks (recipes.loops): Exchange's
# weaker automatic-reply markers count only together with an automatic-reply subject, so without the
# subject an out-of-office reply would become an item whenever no recipe reads the subject itself.
ALWAYS = ("internetMessageHeaders", "subject")


def _templates(recipe: Recipe) -> list[str]:
    return [recipe.action.item_name, *recipe.action.columns.values()]


def graph_fields_for(recipes: Sequence[Recipe]) -> list[str]:
    """Graph $select field names for matching and rendering these recipes, sorted, without duplicates."""
    fields = set(ALWAYS)
    for recipe in recipes:
        conditions = recipe.trigger.conditions
        if conditions.from_:
            fields.add("from")
        if conditions.subject_contains:
            fields.add("subject")
        for template in _templates(recipe):
            fields.update(PLACEHOLDERS[name] for name in placeholders(template))
    return sorted(fields)


def needs_body_text(recipes: Sequence[Recipe]) -> bool:
    """Whether any recipe renders {body}: the fetch then asks Graph for the text form of the body."""
    return any("body" in placeholders(t) for r in recipes for t in _templates(r))
