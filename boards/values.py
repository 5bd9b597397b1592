"""Column values by type: what each type accepts and how it is stored. Pure functions.

Every value is stored as text. An empty value (or None) clears the column. `parse` is strict and is
what people's edits go through; `fit` is for text written by a recipe from an email, where a subject with
a line break or a body longer than the column is cut to fit rather than losing the email's item.
Errors say what the type expects and never repeat the value (it may be email content).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from boards.errors import InvalidValue
from boards.sanitise import sanitise_html

TEXT_MAX = 2000
LONG_TEXT_MAX = 10_000
EMAIL_MAX = 254
LINK_MAX = 2000
NUMBER_MAX_DIGITS = 60

# Deliberately loose: one "@", no spaces or angle brackets, a dot in the domain. Mail servers are the
# judge of deliverability; this catches a value in the wrong column.
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def _text(value: str) -> str:
    if _LINE_BREAKS.search(value):
        raise InvalidValue("expects one line of text (no line breaks)")
    if len(value) > TEXT_MAX:
        raise InvalidValue(f"expects at most {TEXT_MAX} characters")
    return value


def _long_text(value: str) -> str:
    if len(value) > LONG_TEXT_MAX:
        raise InvalidValue(f"expects at most {LONG_TEXT_MAX} characters")
    cleaned = sanitise_html(value)
    if len(cleaned) > LONG_TEXT_MAX:  # escaping ("<" -> "&lt;") can lengthen it
        raise InvalidValue(f"expects at most {LONG_TEXT_MAX} characters once its HTML is made safe")
    return cleaned


def _email(value: str) -> str:
    if len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value):
        raise InvalidValue("expects an email address such as name@example.com")
    return value


def _date(value: str) -> str:
    """A date stays YYYY-MM-DD; a date and time becomes UTC, to the second, as YYYY-MM-DDTHH:MM:SSZ (a
    time without an offset is taken as UTC)."""
    expects = "expects an ISO 8601 date (2026-11-30) or date and time (2026-11-30T14:00:00Z)"
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value).isoformat()
        if not _DATE.match(value) or value[10:11] not in ("T", "t", " "):
            raise InvalidValue(expects)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(expects) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last representable UTC moment
        raise InvalidValue(expects) from None
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: str) -> str:
    expects = "expects a decimal number such as 42 or -3.5"
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidValue(expects) from None
    # NaN and infinities are not amounts; a huge exponent would print as a huge string.
    if not number.is_finite():
        raise InvalidValue(expects)
    if abs(number.adjusted()) > NUMBER_MAX_DIGITS:
        raise InvalidValue(f"expects a decimal number of at most {NUMBER_MAX_DIGITS} digits")
    return format(number, "f")


def _link(value: str) -> str:
    expects = "expects an http or https URL such as https://example.com/page"
    if len(value) > LINK_MAX or any(c.isspace() for c in value):
        raise InvalidValue(expects)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise InvalidValue(expects) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidValue(expects)
    return value


_PARSERS: dict[str, Callable[[str], str]] = {
    "text": _text,
    "long_text": _long_text,
    "email": _email,
    "date": _date,
    "number": _number,
    "link": _link,
}


def parse(column_type: str, raw: str | None, labels: Sequence[str] = ()) -> str | None:
    """The value to store for `raw` in a column of this type (None: the column is cleared). Raises
    InvalidValue saying what the type expects."""
    if raw is None:
        return None
    # Surrounding spaces never matter to these types; long_text keeps its inner layout.
    value = raw.strip()
    if not value:
        return None
    if column_type == "status":
        return _status(value, labels)
    parser = _PARSERS.get(column_type)
    if parser is None:
        raise InvalidValue(f"has an unknown type {column_type!r}")
    return parser(value)


def fit(column_type: str, raw: str | None, labels: Sequence[str] = ()) -> str | None:
    """Like `parse`, but text types are made to fit instead of refused: line breaks in one-line text
    become spaces and over-long text is cut (then sanitised). The other types are as strict as `parse`."""
    if raw is not None and column_type == "text":
        raw = _LINE_BREAKS.sub(" ", raw).strip()[:TEXT_MAX]
    elif raw is not None and column_type == "long_text":
        return _fit_long_text(raw.strip()) or None
    return parse(column_type, raw, labels)


def _fit_long_text(raw: str) -> str:
    # Cut the input, not the sanitised output (a cut there could split a tag or an entity); escaping
    # can lengthen it past the limit, so cut shorter until the safe text fits.
    limit = LONG_TEXT_MAX
    while True:
        cleaned = sanitise_html(raw[:limit])
        if len(cleaned) <= LONG_TEXT_MAX:
            return cleaned
        # Shrink in proportion (entities are up to ~6x their character), by at least one.
        limit = max(0, min(limit - 1, limit * LONG_TEXT_MAX // len(cleaned)))


def _status(value: str, labels: Sequence[str]) -> str:
    key = value.casefold()
    for label in labels:
        if label.casefold() == key:
            return label
    raise InvalidValue("expects one of its labels: " + ", ".join(labels))


def same(a: str | None, b: str | None) -> bool:
    """Whether two stored values are the same for find_item: ignoring case and surrounding spaces."""
    return (a or "").strip().casefold() == (b or "").strip().casefold()
