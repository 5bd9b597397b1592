"""Outlook's conversation index: Graph's `conversationIndex` (Edm.Binary, so base64 in JSON).

Layout (MS-OXOMSG 2.2.1.3): a 22-byte header (0x01, the 40 high bits of the conversation's start time as a
FILETIME, big-endian, then the conversation's 16-byte GUID), then one 5-byte response level per reply. A
reply's index is its parent's plus one level, so typed clients can rebuild the thread from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid

HEADER = 22
LEVEL = 5
_FILETIME_EPOCH = 11_644_473_600  # seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01
_TICKS = 10_000_000  # FILETIME counts 100 ns ticks
# Fixed namespace: the GUID is a function of the conversation id alone, so every message of a
# conversation, in every mailbox and after a restart, carries the same one.
_NAMESPACE = uuid.UUID("5b0c8f3e-9d4a-4c1e-8a7e-0c6f2d1e9b47")


def encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode(value: str) -> bytes | None:
    """The index bytes, or None when `value` is not a well-formed index (e.g. from an old snapshot)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < HEADER or (len(raw) - HEADER) % LEVEL or raw[0] != 0x01:
        return None
    return raw


def guid(conversation_id: str) -> bytes:
    # uuid.bytes is big-endian in Data1..Data3, which is how the index stores the GUID.
    return uuid.uuid5(_NAMESPACE, conversation_id).bytes


def _filetime(ts: float) -> int:
    return int((ts + _FILETIME_EPOCH) * _TICKS)


def header(conversation_id: str, start: float) -> bytes:
    return b"\x01" + (_filetime(start) >> 24).to_bytes(5, "big") + guid(conversation_id)


def response_level(head: bytes, when: float, salt: str) -> bytes:
    """One 5-byte level: delta code (1 bit), time since the header (31 bits), random (4), sequence (4)."""
    start = int.from_bytes(head[1:6], "big") << 24
    diff = max(_filetime(when) - start, 0)  # a back-dated delivery must not underflow
    if diff < 1 << 49:  # under about 1.7 years: delta code 0, the delta in units of 2^18 ticks
        code, delta = 0, diff >> 18
    else:
        code, delta = 1, min(diff >> 23, 0x7FFFFFFF)
    # The low byte is meant to be random; derived from the message instead, so each copy of one message
    # (sender's Sent Items, every recipient's inbox) and a snapshot backfill compute the same index.
    low = hashlib.sha256(salt.encode()).digest()[0]
    return ((code << 39) | (delta << 8) | low).to_bytes(LEVEL, "big")


def index_for(
    conversation_id: str,
    sent: float,
    salt: str,
    parent: bytes | None,
    carried: bytes | None,
    known_header: bytes | None,
) -> bytes:
    """The index of a new message of `conversation_id`, from the best evidence there is:
    a parent in the same conversation (its index plus one level); else an index carried with the mail
    (as Exchange's Thread-Index travels), if it is of this conversation; else a later message of a
    conversation already in the mailbox (its header plus one level: a response, never a second root);
    else the first message of a new conversation (the header alone)."""
    own = guid(conversation_id)
    if parent is not None and parent[6:HEADER] == own:
        return parent + response_level(parent, sent, salt)
    if carried is not None and carried[6:HEADER] == own:
        return carried
    if known_header is not None and known_header[6:HEADER] == own:
        return known_header + response_level(known_header, sent, salt)
    return header(conversation_id, sent)
