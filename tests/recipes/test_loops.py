"""is_own_mail() and is_automatic_reply(): RFC 3834 and Microsoft's headers."""

from __future__ import annotations

import pytest

from recipes.loops import is_automatic_reply, is_own_mail
from tests.recipes.factories import email


@pytest.mark.parametrize(
    ("headers", "marker", "expected"),
    [
        ({"x-outlook-integration": "recipe=r1"}, "x-outlook-integration", True),
        ({"x-outlook-integration": ""}, "x-outlook-integration", True),
        ({"x-other": "1"}, "x-outlook-integration", False),
        ({}, "x-outlook-integration", False),
        ({"x-custom-marker": "1"}, "X-Custom-Marker", True),
    ],
)
def test_is_own_mail(headers, marker, expected):
    assert is_own_mail(email(headers=headers), marker_header=marker) is expected


def test_is_own_mail_default_marker():
    assert is_own_mail(email(headers={"x-outlook-integration": "1"}))


@pytest.mark.parametrize(
    ("headers", "subject", "expected"),
    [
        # RFC 3834: any Auto-Submitted value but "no".
        ({"auto-submitted": "auto-replied"}, "Re: help", True),
        ({"auto-submitted": "auto-generated"}, "Report", True),
        ({"auto-submitted": "Auto-Replied; owner-email=a@b.example"}, "x", True),
        ({"auto-submitted": "auto-notified"}, "x", True),
        ({"auto-submitted": "no"}, "Automatic reply: help", False),
        ({"auto-submitted": " No ; comment"}, "x", False),
        # Other responders' markers.
        ({"x-autoreply": "yes"}, "x", True),
        ({"x-autoreply": "no"}, "x", False),
        ({"x-autorespond": "vacation"}, "x", True),
        ({"precedence": "auto_reply"}, "x", True),
        ({"precedence": "bulk"}, "x", False),
        # Microsoft's weaker markers need the automatic-reply subject as well.
        ({"x-auto-response-suppress": "All"}, "Automatic reply: Need help", True),
        ({"x-auto-response-suppress": "DR, OOF, AutoReply"}, "Out of Office: Need help", True),
        ({"x-auto-response-suppress": "All"}, "Need help", False),
        ({"x-auto-response-suppress": "DR, NDR"}, "Automatic reply: Need help", False),
        ({"x-ms-exchange-inbox-rules-loop": "boss@acme.example"}, "Automatic reply: hi", True),
        ({"x-ms-exchange-inbox-rules-loop": "boss@acme.example"}, "FW: customer needs help", False),
        # The subject alone is what a person may write.
        ({}, "Automatic reply: why is this not working?", False),
        ({}, "Need help", False),
    ],
)
def test_is_automatic_reply(headers, subject, expected):
    assert is_automatic_reply(email(headers=headers, subject=subject)) is expected
