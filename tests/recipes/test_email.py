"""facts_from_graph(): plain facts from a Graph message, only the fields that were fetched."""

from __future__ import annotations

from datetime import UTC, datetime

from graph.wire import Message
from recipes.email import EmailFacts, facts_from_graph


def test_from_a_full_graph_message():
    message = Message.model_validate(
        {
            "id": "AAMk=",
            "subject": "Need help",
            "from": {"emailAddress": {"name": "Jane", "address": "jane@customer.example"}},
            "toRecipients": [
                {"emailAddress": {"address": "support@acme.example"}},
                {"emailAddress": {"name": "no address"}},
                {},
            ],
            "receivedDateTime": "2026-11-30T04:00:00Z",
            "bodyPreview": "Hello",
            "body": {
                "contentType": "html",
                "content": "<html><head><style>p{}</style></head>"
                "<body><p>Hello&nbsp;there,</p><p>my <b>order</b></p><script>x()</script></body></html>",
            },
            "conversationId": "conv",
            "internetMessageHeaders": [
                {"name": "Auto-Submitted", "value": "auto-replied"},
                {"name": "Received", "value": "a"},
                {"name": "received", "value": "b"},
            ],
        }
    )
    facts = facts_from_graph(message)
    assert facts == EmailFacts(
        message_id="AAMk=",
        subject="Need help",
        from_address="jane@customer.example",
        from_name="Jane",
        received_at=datetime(2026, 11, 30, 4, tzinfo=UTC),
        preview="Hello",
        body_text="Hello there,\n\nmy order",
        to=["support@acme.example"],
        conversation_id="conv",
        headers={"auto-submitted": "auto-replied", "received": "a, b"},
    )


def test_text_body_is_kept_as_is():
    message = Message.model_validate({"body": {"contentType": "text", "content": "a <b> c"}})
    assert facts_from_graph(message).body_text == "a <b> c"


def test_only_what_was_fetched():
    facts = facts_from_graph(Message.model_validate({"id": "m", "internetMessageHeaders": []}))
    assert facts == EmailFacts(message_id="m")
    assert facts_from_graph(Message.model_validate({"from": {}})).from_address == ""
