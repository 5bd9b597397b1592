"""Which Graph resource a connection's one subscription watches, decided by its enabled incoming recipes.

Graph subscribes to one folder (`me/mailFolders('inbox')/messages`) or to the whole mailbox
(`me/messages`); there is no "these three folders" resource, and the service keeps one subscription per
connection (webhook directory, clientState, lifecycle handling). So: recipes that watch only the inbox
keep the inbox subscription; any other folder switches the connection to the whole mailbox, and the
message path's folder check (parentFolderId only) drops what arrives elsewhere before reading anything.
"""

from __future__ import annotations

from collections.abc import Iterable

INBOX_RESOURCE = "me/mailFolders('inbox')/messages"
MAILBOX_RESOURCE = "me/messages"


def subscription_resource(watched_folders: Iterable[str]) -> str:
    """The resource for these recipe folders ("inbox", a well-known name or a folder id)."""
    if any(folder.strip().lower() != "inbox" for folder in watched_folders):
        return MAILBOX_RESOURCE
    return INBOX_RESOURCE


def normalized(resource: str | None) -> str:
    """A resource as Graph may echo it (other casing, double quotes, `users/{id}/` instead of `me/`),
    reduced to what identifies it within one mailbox: `mailfolders('inbox')/messages`, `messages`."""
    parts = [p for p in (resource or "").strip().lower().replace('"', "'").split("/") if p]
    if parts[:1] == ["me"]:
        parts = parts[1:]
    elif parts[:1] == ["users"] and len(parts) >= 2:
        parts = parts[2:]
    return "/".join(parts)


def same_resource(a: str | None, b: str | None) -> bool:
    return normalized(a) == normalized(b)
