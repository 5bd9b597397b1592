"""The rule for the connection subscription's resource (activities/subscription_resource.py): pure."""

from __future__ import annotations

import pytest

from activities.subscription_resource import (
    INBOX_RESOURCE,
    MAILBOX_RESOURCE,
    normalized,
    same_resource,
    subscription_resource,
)

# A custom folder's id, shaped as Graph's are.
CUSTOM = "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbY="


@pytest.mark.parametrize(
    ("folders", "resource"),
    [
        ([], INBOX_RESOURCE),  # no incoming recipe yet: the inbox, as a connection always started
        (["inbox"], INBOX_RESOURCE),
        (["inbox", "Inbox", " inbox "], INBOX_RESOURCE),
        ([CUSTOM], MAILBOX_RESOURCE),
        (["inbox", CUSTOM], MAILBOX_RESOURCE),
        (["archive"], MAILBOX_RESOURCE),  # a well-known folder other than the inbox is another folder
    ],
)
def test_the_inbox_alone_keeps_the_inbox_subscription_anything_else_the_whole_mailbox(
    folders: list[str], resource: str
) -> None:
    assert subscription_resource(folders) == resource
    assert subscription_resource(iter(folders)) == resource  # any iterable, read once


@pytest.mark.parametrize(
    "echoed",
    [
        "me/mailFolders('inbox')/messages",
        "Me/MailFolders('Inbox')/Messages",
        'me/mailFolders("inbox")/messages',
        "users/5b3c7a52-1f0e-4a3e-9b1b-1d2f3e4a5b6c/mailFolders('inbox')/messages",
        "/me/mailFolders('inbox')/messages/",
    ],
)
def test_graph_echoes_of_the_inbox_resource_are_the_same(echoed: str) -> None:
    assert same_resource(echoed, INBOX_RESOURCE)
    assert not same_resource(echoed, MAILBOX_RESOURCE)


def test_the_whole_mailbox_is_messages_however_written() -> None:
    assert normalized("me/messages") == normalized("Users/ada@contoso.test/Messages") == "messages"
    assert same_resource("users/abc/messages", MAILBOX_RESOURCE)
    assert not same_resource(None, MAILBOX_RESOURCE)
    assert not same_resource("me/mailFolders('archive')/messages", INBOX_RESOURCE)
