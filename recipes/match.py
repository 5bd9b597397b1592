"""Does a recipe's trigger match an email, and if not, which condition failed? Pure and deterministic."""

from __future__ import annotations

import re

from payloads.email import EmailFacts
from recipes.model import Recipe


def sender_matches(patterns: list[str], address: str) -> bool:
    """An address equal to one entry, or in the domain of a "*@domain" entry; case-insensitive."""
    address = address.strip().lower()
    if not address:
        return False
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("*@"):
            if address.endswith(pattern[1:]):
                return True
        elif address == pattern:
            return True
    return False


def _word_pattern(words: str) -> re.Pattern[str]:
    # Whole words: "help" matches "Help needed" and "need help!" but not "helpful"; a phrase's words
    # may be separated by any whitespace.
    parts = [re.escape(w) for w in words.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def subject_matches(words: list[str], subject: str) -> bool:
    return any(_word_pattern(w).search(subject) for w in words if w.strip())


def first_failed_condition(recipe: Recipe, email: EmailFacts) -> str | None:
    """The name of the first condition the email fails (None: it matches). The name is the
    condition's, never the email's value, so it can go into the activity log."""
    if recipe.trigger.type != "email_received":
        return "trigger"
    conditions = recipe.trigger.conditions
    if conditions.from_ and not sender_matches(conditions.from_, email.from_address):
        return "from"
    if conditions.subject_contains and not subject_matches(conditions.subject_contains, email.subject):
        return "subject_contains"
    return None


def matches(recipe: Recipe, email: EmailFacts) -> bool:
    """True when every condition holds; an empty condition list means "any"."""
    return first_failed_condition(recipe, email) is None
