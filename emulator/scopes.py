"""Scope names: accepted short or https://graph.microsoft.com/-prefixed, matched case-insensitively."""

from __future__ import annotations

GRAPH_PREFIX = "https://graph.microsoft.com/"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRAPH_SCOPES = (
    "User.Read",
    "User.ReadBasic.All",
    "Mail.Read",
    "Mail.ReadBasic",
    "Mail.ReadWrite",
    "Mail.Send",
    "MailboxSettings.Read",
)
DESCRIPTIONS = {
    "User.Read": "Sign you in and read your profile",
    "User.ReadBasic.All": "Read all users' basic profiles",
    "Mail.Read": "Read your mail",
    "Mail.ReadBasic": "Read basic mail properties (no bodies)",
    "Mail.ReadWrite": "Read and write access to your mail",
    "Mail.Send": "Send mail as you",
    "MailboxSettings.Read": "Read your mailbox settings",
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
    "offline_access": "Maintain access to data you have given it access to",
}
_CANONICAL = {s.lower(): s for s in (*GRAPH_SCOPES, *OIDC_SCOPES)}

READ_MAIL = ("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic")
READ_MAIL_BODIES = ("Mail.Read", "Mail.ReadWrite")
READ_USER = ("User.Read", "User.ReadBasic.All", "User.ReadWrite")


class InvalidScope(ValueError):
    pass


def normalize(raw: str) -> list[str]:
    """Canonical scope names from a space-separated scope parameter; `.default` stays as is."""
    out: list[str] = []
    for item in raw.split():
        name = item
        if name.lower().startswith(GRAPH_PREFIX):
            name = name[len(GRAPH_PREFIX) :]
        if name.lower() == ".default":
            canonical = ".default"
        else:
            found = _CANONICAL.get(name.lower())
            if found is None:
                raise InvalidScope(item)
            canonical = found
        if canonical not in out:
            out.append(canonical)
    return out


def resource_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s in GRAPH_SCOPES]


def has_any(granted: list[str], needed: tuple[str, ...]) -> bool:
    return any(s in granted for s in needed)
