"""A connection records the tenant its mailbox signed in from (the id token's `tid`, as Microsoft's
identity platform issues it), which the webhook then requires of every notification for that connection
(tests/webhooks/test_endpoints.py::test_a_connection_takes_notifications_only_from_its_own_tenant)."""

from __future__ import annotations

import asyncio
import uuid

from db.connections import Connection
from db.engine import session_scope
from emulator.settings import EmulatorSettings
from tests.e2e.conftest import Stack
from tests.e2e.helpers import connected_mailbox


def _tenant(stack: Stack, connection_id: str) -> str | None:
    with session_scope(stack.engine) as session:
        return session.get_one(Connection, uuid.UUID(connection_id)).tenant_id


async def test_a_connection_remembers_its_mailbox_tenant(stack: Stack) -> None:
    _email, _token, connection_id = await connected_mailbox(stack)
    assert await asyncio.to_thread(_tenant, stack, connection_id) == EmulatorSettings().tenant_id
