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
            "ccRecipients": [{"emailAddress": {"name": "Boss", "address": "boss@acme.example"}}],
            "conversationId": "conv",
            "internetMessageId": "<abc@customer.example>",
            "hasAttachments": True,
            "importance": "High",
            "webLink": "https://outlook.example/owa/?ItemID=AAMk",
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
        to_names=["no address"],
        cc=["boss@acme.example"],
        cc_names=["Boss"],
        conversation_id="conv",
        headers={"auto-submitted": "auto-replied", "received": "a, b"},
        has_attachments=True,
        importance="high",
        internet_message_id="<abc@customer.example>",
        web_link="https://outlook.example/owa/?ItemID=AAMk",
    )


def test_text_body_is_kept_as_is():
    message = Message.model_validate({"body": {"contentType": "text", "content": "a <b> c"}})
    assert facts_from_graph(message).body_text == "a <b> c"


def test_only_what_was_fetched():
    facts = facts_from_graph(Message.model_validate({"id": "m", "internetMessageHeaders": []}))
    assert facts == EmailFacts(message_id="m")
    assert facts_from_graph(Message.model_validate({"from": {}})).from_address == ""


def test_json_recorded_before_the_new_fields_still_loads():
    # Workflow histories recorded by the previous release carry EmailFacts without cc, importance, ...
    old = (
        '{"message_id": "m", "subject": "s", "from_address": "a@b.example", "from_name": "", '
        '"received_at": null, "preview": "", "body_text": "", "to": ["x@y.example"], '
        '"conversation_id": "c", "headers": {}}'
    )
    facts = EmailFacts.model_validate_json(old)
    assert facts.to == ["x@y.example"] and facts.cc == [] and facts.has_attachments is None
    assert facts.importance == "" and facts.internet_message_id == "" and facts.web_link == ""
