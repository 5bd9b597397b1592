"""Mail that must never become an item: what this service sent itself, and automatic replies.

Automatic replies follow RFC 3834 (Auto-Submitted other than "no") plus the headers other responders
use (X-Autoreply, X-Autorespond, Precedence: auto_reply). Microsoft's weaker signals,
X-Auto-Response-Suppress (a sender asking not to be answered automatically, which Exchange sets on its
own out-of-office replies but also newsletters set) and X-MS-Exchange-Inbox-Rules-Loop (the message
went through an inbox rule: also plain forwards), count only together with an automatic-reply subject,
so a forwarded customer email is not lost.
"""

from __future__ import annotations

from payloads.email import EmailFacts

OWN_MARKER_HEADER = "x-outlook-integration"

_AUTO_REPLY_SUBJECTS = (
    "automatic reply:",
    "auto reply:",
    "autoreply:",
    "auto-reply:",
    "out of office:",
    "out of office reply:",
    "out of the office:",
)
_SUPPRESS_FLAGS = {"all", "oof", "autoreply"}


def is_own_mail(email: EmailFacts, marker_header: str = OWN_MARKER_HEADER) -> bool:
    """True when the message carries the header this service puts on every email it sends."""
    return marker_header.strip().lower() in email.headers


def _strong_auto_marker(headers: dict[str, str]) -> bool:
    auto_submitted = headers.get("auto-submitted")
    if auto_submitted is not None:
        # "auto-replied; comment" -> "auto-replied"; RFC 3834 5.1: only "no" means a human sent it.
        if auto_submitted.split(";", 1)[0].strip().lower() != "no":
            return True
    if headers.get("x-autoreply", "").strip().lower() in ("yes", "true", "1"):
        return True
    if "x-autorespond" in headers:
        return True
    return headers.get("precedence", "").strip().lower() == "auto_reply"


def _weak_auto_marker(headers: dict[str, str]) -> bool:
    suppress = {flag.strip().lower() for flag in headers.get("x-auto-response-suppress", "").split(",")}
    return bool(suppress & _SUPPRESS_FLAGS) or "x-ms-exchange-inbox-rules-loop" in headers


def is_automatic_reply(email: EmailFacts) -> bool:
    if _strong_auto_marker(email.headers):
        return True
    subject = email.subject.strip().lower()
    return _weak_auto_marker(email.headers) and subject.startswith(_AUTO_REPLY_SUBJECTS)
