"""Putting mail into mailboxes: standard internet headers, sent copies, and delivery to other emulated
mailboxes (so mail loops between connected mailboxes can be tested)."""

from __future__ import annotations

import email.utils
import time
from typing import Any

from emulator.models import Message, SentRecord, User
from emulator.store import Store

Recipient = tuple[str, str]


def standard_headers(
    sender: Recipient,
    to: list[Recipient],
    cc: list[Recipient],
    subject: str,
    internet_message_id: str,
    in_reply_to: str | None,
    references: str | None,
    body_type: str,
    when: float,
    extra: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    def fmt(rs: list[Recipient]) -> str:
        return ", ".join(email.utils.formataddr((n, a)) for n, a in rs)

    headers = [
        ("Received", f"from emulator.local (127.0.0.1) by emulator.local; {email.utils.formatdate(when)}"),
        ("From", email.utils.formataddr(sender)),
        ("To", fmt(to)),
    ]
    if cc:
        headers.append(("CC", fmt(cc)))
    headers += [
        ("Subject", subject),
        ("Date", email.utils.formatdate(when)),
        ("Message-ID", internet_message_id),
    ]
    if in_reply_to:
        headers.append(("In-Reply-To", in_reply_to))
    if references:
        headers.append(("References", references))
    ctype = "text/html" if body_type == "html" else "text/plain"
    headers += [("Content-Type", f'{ctype}; charset="utf-8"'), ("MIME-Version", "1.0")]
    return headers + extra


def deliver_to_mailboxes(store: Store, sender: User, fields: dict[str, Any]) -> list[Message]:
    """Delivers a copy into the inbox of every recipient that is an emulated mailbox."""
    delivered: list[Message] = []
    seen: set[str] = set()
    for _name, address in [*fields["to"], *fields["cc"], *fields["bcc"]]:
        target = store.user_by_email(address)
        if target is None or target.id in seen:
            continue
        seen.add(target.id)
        copy = dict(fields)
        copy["bcc"] = []
        conversation = copy.get("conversation_id", "")
        irt = next((v for k, v in copy.get("headers", []) if k.lower() == "in-reply-to"), None)
        if irt:
            original = store.find_by_internet_id(target, irt)
            if original is not None:
                conversation = original.conversation_id
        copy["conversation_id"] = conversation
        copy["is_read"] = False
        delivered.append(store.add_message(target, store.well_known(target, "inbox"), **copy))
    return delivered


def send(
    store: Store,
    sender: User,
    kind: str,
    fields: dict[str, Any],
    save_to_sent_items: bool,
    record: dict[str, Any],
) -> None:
    sent_copy: Message | None = None
    # Computed once in the sender's mailbox and carried with every copy, as Exchange's Thread-Index
    # travels with the mail: a recipient without the parent still sees the reply's full index.
    fields["conversation_index"] = store.conversation_index(
        sender, fields["conversation_id"], fields["headers"], fields["sent"], fields["internet_message_id"]
    )
    if save_to_sent_items:
        own = dict(fields)
        own["is_read"] = True
        sent_copy = store.add_message(sender, store.well_known(sender, "sentitems"), **own)
    with store.lock:
        sender.sent.append(
            SentRecord(
                time=time.time(),
                kind=kind,
                message=record,
                save_to_sent_items=save_to_sent_items,
                sent_item_id=sent_copy.immutable_id if sent_copy else None,
            )
        )
        store.changed()
    deliver_to_mailboxes(store, sender, fields)
