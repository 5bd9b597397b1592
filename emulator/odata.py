"""The OData query options the mail endpoints support: $select, $top, $skip, $orderby, $filter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from emulator.errors import GraphError

MESSAGE_FIELDS = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
    "internetMessageHeaders",
    "uniqueBody",
)
_FIELD_BY_LOWER = {f.lower(): f for f in MESSAGE_FIELDS}


def parse_select(raw: str | None, type_name: str = "Microsoft.OutlookServices.Message") -> list[str] | None:
    if raw is None:
        return None
    out: list[str] = []
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        canonical = _FIELD_BY_LOWER.get(name.lower())
        if canonical is None:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
        if canonical not in out:
            out.append(canonical)
    return out


def parse_int(raw: str | None, name: str, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    return min(int(raw), maximum)


def parse_datetime(raw: str) -> float:
    text = raw.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(
            400, "BadRequest", f"Invalid filter clause: '{raw}' is not a DateTimeOffset."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "receiveddatetime": lambda m: m.received,
    "sentdatetime": lambda m: m.sent,
    "createddatetime": lambda m: m.created,
    "lastmodifieddatetime": lambda m: m.modified,
    "subject": lambda m: m.subject.lower(),
}


def parse_orderby(raw: str | None) -> tuple[Callable[[Any], Any], bool]:
    """(key, descending); default newest first like Outlook."""
    if raw is None:
        return _ORDER_KEYS["receiveddatetime"], True
    parts = raw.strip().split()
    if (
        not parts
        or parts[0].lower() not in _ORDER_KEYS
        or len(parts) > 2
        or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc"))
    ):
        raise GraphError(400, "BadRequest", f"Invalid $orderby clause '{raw}'.")
    return _ORDER_KEYS[parts[0].lower()], len(parts) == 2 and parts[1].lower() == "desc"


_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*$", re.IGNORECASE)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


def _string_literal(value: str, clause: str) -> str:
    """An OData string literal: single quotes, a quote inside doubled ('')."""
    if len(value) < 2 or not (value.startswith("'") and value.endswith("'")):
        raise GraphError(
            400, "BadRequest", f"Invalid filter clause: '{clause}': a string value needs single quotes."
        )
    return value[1:-1].replace("''", "'")


def parse_filter(raw: str | None, delta: bool = False) -> Callable[[Any], bool] | None:
    """`receivedDateTime ge|gt|le|lt|eq <iso>`, `isRead eq true|false` and `internetMessageId eq|ne
    '<id>'` (how a sender finds its own mail in Sent Items), joined with `and`. Delta only supports
    receivedDateTime ge|gt, like Graph."""
    if raw is None or not raw.strip():
        return None
    preds: list[Callable[[Any], bool]] = []
    for clause in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if not m:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: '{clause}'.")
        field, op, value = m.group(1).lower(), m.group(2).lower(), m.group(3)
        fn = _OPS[op]
        if field == "receiveddatetime" and (not delta or op in ("ge", "gt")):
            when = parse_datetime(value.strip("'"))
            preds.append(lambda msg, fn=fn, when=when: fn(msg.received, when))  # type: ignore[misc]
        elif field == "internetmessageid" and not delta and op in ("eq", "ne"):
            wanted = _string_literal(value, clause)
            preds.append(lambda msg, fn=fn, wanted=wanted: fn(msg.internet_message_id, wanted))  # type: ignore[misc]
        elif field == "isread" and not delta and value.lower() in ("true", "false"):
            flag = value.lower() == "true"
            preds.append(lambda msg, fn=fn, flag=flag: fn(msg.is_read, flag))  # type: ignore[misc]
        else:
            raise GraphError(
                400,
                "ErrorInvalidUrlQueryFilter",
                f"The query filter contains one or more invalid nodes: '{clause}'.",
            )
    return lambda msg: all(p(msg) for p in preds)


def prefer_values(header: str | None) -> dict[str, str]:
    """Prefer: odata.maxpagesize=50, outlook.body-content-type="text", IdType="ImmutableId"."""
    out: dict[str, str] = {}
    if not header:
        return out
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out
