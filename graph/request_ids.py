"""The `client-request-id` sent with every Graph call.

Microsoft asks clients to send one (a GUID per request; Graph echoes it, and support traces a call by
it). Ours are UUID version 7 (RFC 9562): the first 48 bits are the Unix time in milliseconds at which
the client let the call go, after the mailbox's Retry-After gate, and the next 12 the fraction of that
millisecond. So the ids sort by time, and whoever reads them beside Graph's logs and ours (a hold after
a 429 is logged with its instants, graph/limits.py) can tell a call sent after a 429 from one already on
its way.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0b10 << 62
_SUB_MILLI_STEPS = 4096  # rand_a's 12 bits hold the fraction of the millisecond (RFC 9562, 6.2 method 3)
# sent_at() reads the sending instant to within this much below the truth (the fraction's steps of
# ~0.24 us, then whole microseconds).
SENT_AT_RESOLUTION = 2e-6


def new_client_request_id(now: float | None = None) -> str:
    micros = int((time.time() if now is None else now) * 1_000_000)
    millis, within = divmod(micros, 1000)
    fraction = within * _SUB_MILLI_STEPS // 1000
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    millis &= (1 << 48) - 1
    return str(uuid.UUID(int=(millis << 80) | _VERSION_7 | (fraction << 64) | _VARIANT_RFC | rand_b))


def sent_at(client_request_id: str | None) -> float | None:
    """The Unix time (seconds, to the microsecond) a version-7 id of ours carries; None for any other
    id."""
    if not client_request_id:
        return None
    try:
        value = uuid.UUID(client_request_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    millis = value.int >> 80
    fraction = (value.int >> 64) & 0xFFF
    return (millis * 1000 + fraction * 1000 // _SUB_MILLI_STEPS) / 1_000_000
