"""Templates such as "{subject} from {from.name}" or "{name} is {column:Status}": known placeholders only,
"{{" and "}}" for braces. No expressions, no attribute access, no code: a placeholder is a name looked up
in a dict of strings.

Two vocabularies: an incoming recipe's templates read the email (EMAIL_PLACEHOLDERS); an outgoing
recipe's read the board item (ITEM_PLACEHOLDERS, plus "column:<title>" for any column of the board,
checked against the board when the recipe is saved)."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Placeholder -> the Graph message field it is read from (what $select must ask for).
EMAIL_PLACEHOLDERS: dict[str, str] = {
    "subject": "subject",
    "from.address": "from",
    "from.name": "from",
    "received_at": "receivedDateTime",
    "preview": "bodyPreview",
    "body": "body",
    "to": "toRecipients",
    "cc": "ccRecipients",
    "importance": "importance",
    "conversation_id": "conversationId",
    "link": "webLink",
}
# Kept under its old name: the fetch's field list is built from it.
PLACEHOLDERS = EMAIL_PLACEHOLDERS

# Placeholder -> what it shows of a board item.
ITEM_PLACEHOLDERS: dict[str, str] = {
    "name": "the item's name",
    "board": "the board's name",
    "group": "the item's group",
    "item.id": "the item's id",
    "old_value": "a changed column's value before the change",
    "new_value": "a changed column's value after the change",
}
COLUMN_PREFIX = "column:"

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    pass


def known_placeholders(known: Mapping[str, str] = EMAIL_PLACEHOLDERS, columns: bool = False) -> str:
    names = ["{" + name + "}" for name in known]
    if columns:
        names.append("{column:<column title>}")
    return ", ".join(names)


def placeholders(
    template: str, known: Mapping[str, str] = EMAIL_PLACEHOLDERS, columns: bool = False
) -> list[str]:
    """The placeholders a template uses, in order; raises TemplateError naming the first bad one.
    With columns=True, "column:<title>" placeholders are allowed (returned as written, title stripped)."""
    found: list[str] = []
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            raise TemplateError(f"unmatched {token!r}; write {token * 2!r} for a literal brace")
        name = match.group(1).strip()
        if columns and name.startswith(COLUMN_PREFIX):
            title = name[len(COLUMN_PREFIX) :].strip()
            if not title:
                raise TemplateError(f"{token} names no column; write {{column:<column title>}}")
            found.append(COLUMN_PREFIX + title)
            continue
        if name not in known:
            raise TemplateError(f"unknown placeholder {token}; known: {known_placeholders(known, columns)}")
        found.append(name)
    return found


def column_titles(template: str) -> list[str]:
    """The column titles an item template reads ({column:Email} -> "Email")."""
    return [
        name[len(COLUMN_PREFIX) :]
        for name in placeholders(template, ITEM_PLACEHOLDERS, columns=True)
        if name.startswith(COLUMN_PREFIX)
    ]


def render(template: str, values: Mapping[str, str], missing: list[str] | None = None) -> str:
    """The template with each placeholder replaced by its value ("" when absent; its name is appended
    to `missing` when given, for the activity log). Assumes the template passed `placeholders`
    (recipes are validated when saved)."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            return token
        name = match.group(1).strip()
        if name.startswith(COLUMN_PREFIX):
            name = COLUMN_PREFIX + name[len(COLUMN_PREFIX) :].strip()
        value = values.get(name)
        if value is None or value == "":
            if missing is not None and name not in missing:
                missing.append(name)
            return ""
        return value

    return _TOKEN.sub(substitute, template)
