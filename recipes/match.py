"""Does a recipe's trigger match an email, and if not, which condition failed? Pure and deterministic.

All given conditions must hold; within one condition's list any entry may match; every comparison
ignores case. A condition whose list is empty (or None) is not given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from payloads.email import EmailFacts
from recipes.model import Conditions, Recipe


@lru_cache(maxsize=4096)
def _sender_pattern(pattern: str) -> re.Pattern[str]:
    # Only "*" is special ("any run of characters, possibly none"); everything else is literal, so
    # "a.b@x.example" never matches "aXb@x.example" and "?" or "[" mean themselves.
    parts = (re.escape(part) for part in pattern.strip().lower().split("*"))
    return re.compile(".*".join(parts), re.DOTALL)


def sender_matches(patterns: Iterable[str], address: str) -> bool:
    """The whole address matches one pattern ("*@acme.example", "billing-*@*.acme.example")."""
    address = address.strip().lower()
    if not address:
        return False
    return any(_sender_pattern(p).fullmatch(address) for p in patterns)


def contains_any(needles: Iterable[str], haystacks: Iterable[str]) -> bool:
    """Some needle is a substring (ignoring case) of some haystack: recipients' addresses and names."""
    texts = [h.casefold() for h in haystacks if h]
    return any(needle.strip().casefold() in text for needle in needles if needle.strip() for text in texts)


@lru_cache(maxsize=4096)
def _word_pattern(words: str) -> re.Pattern[str]:
    # Whole words: "help" matches "Help needed" and "need help!" but not "helpful"; a phrase's words
    # may be separated by any whitespace.
    parts = [re.escape(w) for w in words.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def words_match(words: Iterable[str], text: str) -> bool:
    return any(_word_pattern(w).search(text) for w in words if w.strip())


# Kept under its old name for callers that read subjects.
subject_matches = words_match


def failed_condition(conditions: Conditions, email: EmailFacts) -> str | None:
    """The name of the first condition (in the model's order) the email fails; None: all hold."""
    if conditions.from_ and not sender_matches(conditions.from_, email.from_address):
        return "from"
    if conditions.to_contains and not contains_any(conditions.to_contains, [*email.to, *email.to_names]):
        return "to_contains"
    if conditions.cc_contains and not contains_any(conditions.cc_contains, [*email.cc, *email.cc_names]):
        return "cc_contains"
    if conditions.subject_contains and not words_match(conditions.subject_contains, email.subject):
        return "subject_contains"
    if conditions.body_contains and not words_match(conditions.body_contains, email.body_text):
        return "body_contains"
    if conditions.has_attachments is not None and email.has_attachments is not conditions.has_attachments:
        return "has_attachments"
    if conditions.importance and email.importance.lower() not in conditions.importance:
        return "importance"
    return None


def first_failed_condition(recipe: Recipe, email: EmailFacts) -> str | None:
    """The name of the first condition the email fails (None: it matches). The name is the
    condition's, never the email's value, so it can go into the activity log."""
    if recipe.trigger.type != "email_received":
        return "trigger"
    return failed_condition(recipe.trigger.conditions, email)


def matches(recipe: Recipe, email: EmailFacts) -> bool:
    """True when every condition holds; an empty condition list means "any"."""
    return first_failed_condition(recipe, email) is None
