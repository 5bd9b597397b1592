"""Templates such as "{subject} from {from.name}": known placeholders only, "{{" and "}}" for braces."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Placeholder -> the Graph message field it is read from (what $select must ask for).
PLACEHOLDERS: dict[str, str] = {
    "subject": "subject",
    "from.address": "from",
    "from.name": "from",
    "received_at": "receivedDateTime",
    "preview": "bodyPreview",
    "body": "body",
    "to": "toRecipients",
    "conversation_id": "conversationId",
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    pass


def known_placeholders() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def placeholders(template: str) -> list[str]:
    """The placeholders a template uses, in order; raises TemplateError naming the first bad one."""
    found: list[str] = []
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            raise TemplateError(f"unmatched {token!r}; write {token * 2!r} for a literal brace")
        name = match.group(1).strip()
        if name not in PLACEHOLDERS:
            raise TemplateError(f"unknown placeholder {token}; known: {known_placeholders()}")
        found.append(name)
    return found


def render(template: str, values: Mapping[str, str]) -> str:
    """The template with each placeholder replaced by its value ("" when absent). Assumes the template
    passed `placeholders` (recipes are validated when saved)."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            return token
        return values.get(match.group(1).strip(), "")

    return _TOKEN.sub(substitute, template)
