"""Microsoft Graph permission scopes: the one rule for reading them.

Microsoft compares scopes case-insensitively and may return them as full resource URIs
(`https://graph.microsoft.com/Mail.Read`), so a grant is never checked with `in` on raw strings.
"""

from __future__ import annotations

from collections.abc import Iterable

GRAPH_RESOURCE = "https://graph.microsoft.com/"
USER_READ = "User.Read"
MAIL_READ = "Mail.Read"
MAIL_SEND = "Mail.Send"
# OpenID Connect scopes MSAL adds by itself: not Graph permissions, never shown or asked for again.
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


def short_scope(scope: str) -> str:
    """`https://graph.microsoft.com/Mail.Read` -> `Mail.Read`; anything else unchanged."""
    return scope[len(GRAPH_RESOURCE) :] if scope.lower().startswith(GRAPH_RESOURCE) else scope


def has_scope(granted: Iterable[str], wanted: str) -> bool:
    """Whether `wanted` is among the granted scopes, in any case and in short or URI form."""
    target = short_scope(wanted).lower()
    return any(short_scope(scope).lower() == target for scope in granted)


def reads_mail(granted: Iterable[str]) -> bool:
    return has_scope(granted, MAIL_READ)


def sends_mail(granted: Iterable[str]) -> bool:
    return has_scope(granted, MAIL_SEND)
