"""Which conversation an email belongs to, as keys a recipe's item is recorded under ("replies": "update").

An item made of a message is recorded under its conversationId and its own internetMessageId; a later
message finds that item by its conversationId, or by any message id in its In-Reply-To or References
headers (RFC 5322 3.6.4): the latter also threads replies from mail systems that start a new Outlook
conversation for them.
"""

from __future__ import annotations

import re

from payloads.email import EmailFacts

CONVERSATION = "conversation:"
MESSAGE = "message:"
# References can list a long thread; the newest ids are the last ones and the likeliest to be ours.
MAX_REFERENCES = 20
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def referenced_ids(email: EmailFacts) -> list[str]:
    """Message ids from In-Reply-To and References, newest first, without duplicates."""
    ids = _MESSAGE_ID.findall(email.headers.get("in-reply-to", ""))
    ids += reversed(_MESSAGE_ID.findall(email.headers.get("references", ""))[-MAX_REFERENCES:])
    return list(dict.fromkeys(i.lower() for i in ids))


def lookup_keys(email: EmailFacts) -> list[str]:
    """Keys under which an earlier item of the same conversation would be recorded."""
    keys = [CONVERSATION + email.conversation_id] if email.conversation_id else []
    own = email.internet_message_id.lower()
    return keys + [MESSAGE + i for i in referenced_ids(email) if i != own]


def claim_keys(email: EmailFacts) -> list[str]:
    """Keys a new item made of this email is recorded under."""
    keys = [CONVERSATION + email.conversation_id] if email.conversation_id else []
    if email.internet_message_id:
        keys.append(MESSAGE + email.internet_message_id.lower())
    return keys
