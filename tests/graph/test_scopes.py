"""One rule for Graph scopes: case-insensitive, short or full resource URI (graph/scopes.py)."""

from __future__ import annotations

import pytest

from connections.consent import requestable
from graph.scopes import has_scope, reads_mail, sends_mail, short_scope

MAIL_READ_FORMS = ["mail.read", "Mail.Read", "MAIL.READ", "https://graph.microsoft.com/Mail.Read"]


@pytest.mark.parametrize("granted", MAIL_READ_FORMS)
def test_every_form_of_mail_read_reads_mail(granted: str) -> None:
    assert reads_mail(["User.Read", granted])
    assert not sends_mail(["User.Read", granted])
    # A reconnect asks again for what was granted, in the short form MSAL expects.
    assert requestable(["User.Read", granted]) == ["User.Read", "Mail.Read"]


def test_full_uri_in_any_case_is_the_short_scope() -> None:
    assert short_scope("HTTPS://GRAPH.MICROSOFT.COM/Mail.Send") == "Mail.Send"
    assert has_scope(["https://graph.microsoft.com/mail.send"], "Mail.Send")


def test_similar_scopes_are_not_the_scope() -> None:
    assert not reads_mail(["Mail.ReadBasic", "Mail.ReadWrite.Shared", "https://other.example/Mail.Read"])
    assert not reads_mail([])
