"""No third party: every connection the service opens while it connects a mailbox, checks it, refreshes its
tokens, subscribes, turns a message into an item and sends an email goes to Microsoft (the emulator here:
identity and Graph) or the service's own Vault, nowhere else.

Python's audit hooks see every socket connect and every name lookup of the process (httpx, requests under
MSAL, hvac, urllib, asyncio), including ones whose failure would be swallowed; the activities run in this
process as the worker wires them (tests/activities/support.py). Temporal's client connects from its Rust
core, which the hooks do not see; its address is the configured one (config/temporal.py).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.connection import ConnectionActivities
from payloads.connection import ConnectionRef, SubscriptionRequest
from payloads.messages import ItemRequest, MatchRequest, MessageInput
from payloads.sends import SendState
from tests.activities.send_support import inbox, scenario, send_activities
from tests.activities.support import World
from tests.graph.support import ValidatingReceiver
from tests.support.servers import free_port


@dataclass
class Outbound:
    """Where the process connected (ip or host, port) and which names it looked up (host, port)."""

    connects: set[tuple[str, int]] = field(default_factory=set)
    lookups: set[tuple[str, int | None]] = field(default_factory=set)


_recording: list[Outbound] = []
_hooked = False


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _recording:
        return
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and len(address) >= 2:
            _recording[-1].connects.add((str(address[0]), int(address[1])))
    elif event == "socket.getaddrinfo":
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if host is not None:
            _recording[-1].lookups.add((str(host).lower(), _port(args[1])))


@contextmanager
def outbound() -> Iterator[Outbound]:
    """Records this process's connections and lookups while the block runs (audit hooks cannot be
    removed: the one hook stays installed and records only inside this block)."""
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    seen = Outbound()
    _recording.append(seen)
    try:
        yield seen
    finally:
        _recording.remove(seen)


def endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    assert parts.hostname and parts.port, url
    return parts.hostname.lower(), parts.port


def allowed_endpoints(world: World) -> set[tuple[str, int]]:
    """Microsoft's identity platform and Graph, and the service's Vault, as configured; each host also as
    the addresses it resolves to (a connect names the address)."""
    settings = world.settings
    named = {
        endpoint(settings.ms_authority),
        endpoint(settings.ms_graph_base_url),
        endpoint(settings.vault_addr),
    }
    resolved = {
        (str(info[4][0]), port)
        for host, port in named
        for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    }
    return named | resolved


def outside(seen: Outbound, allowed: set[tuple[str, int]]) -> list[tuple[str, int | None]]:
    hosts = {host for host, _ in allowed}
    strays: list[tuple[str, int | None]] = [c for c in seen.connects if c not in allowed]
    strays += [
        (host, port)
        for host, port in seen.lookups
        if (host, port) not in allowed and not (port is None and host in hosts)
    ]
    return sorted(strays, key=str)


async def test_the_recorder_sees_a_connection_to_a_host_not_configured(world: World) -> None:
    """What the test below relies on: a connection anywhere else is seen, even one that fails."""
    stray_port = free_port()
    with outbound() as seen:
        async with httpx.AsyncClient() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{stray_port}/")
            with pytest.raises(httpx.ConnectError):
                await http.get("https://telemetry.invalid/")
    assert outside(seen, allowed_endpoints(world)) == [
        ("127.0.0.1", stray_port),
        ("telemetry.invalid", 443),
    ]


async def test_the_service_talks_only_to_microsoft_and_its_own_vault(world: World) -> None:
    receiver = ValidatingReceiver().start()
    try:
        with outbound() as seen:
            # Connect (MSAL's code flow, tokens to Vault), then send an email on a board event.
            sc = await scenario(world)
            mailbox = sc.mailbox
            sender = send_activities(world)
            rendered = await ActivityEnvironment().run(sender.render_email, sc.request())
            assert rendered.email is not None, rendered.reason
            sent = await ActivityEnvironment().run(
                sender.send_email, SendState(request=sc.request(), email=rendered.email)
            )
            assert sent.state == "sent"

            # The connection workflow's work: the validity check, a refresh, the subscription.
            ref = ConnectionRef(connection_id=mailbox.connection_id, mailbox=mailbox.email)
            assert (await ActivityEnvironment().run(world.connection.validate_mailbox, ref)).ok
            await ActivityEnvironment().run(world.connection.refresh_tokens, ref)
            subscribing = ConnectionActivities(world.access, world.engine, receiver.base)
            await ActivityEnvironment().run(
                subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
            )

            # A message made into an item on a built-in board.
            board_id = world.add_board(mailbox)
            recipe_id = world.add_recipe(mailbox, board_id, columns={"From": "{from.address}"})
            message_id = await world.deliver(mailbox)
            message = MessageInput(connection_id=mailbox.connection_id, message_id=message_id)
            assert (await ActivityEnvironment().run(world.steps.check_folder, message)).allowed
            fetched = await ActivityEnvironment().run(world.steps.fetch_message, message)
            assert fetched.email is not None, fetched.reason
            match = await ActivityEnvironment().run(
                world.steps.filter_message,
                MatchRequest(
                    connection_id=mailbox.connection_id, email=fetched.email, recipe_ids=fetched.recipe_ids
                ),
            )
            assert match.matched == [recipe_id]
            item = await ActivityEnvironment().run(
                world.writes.create_item,
                ItemRequest(
                    connection_id=mailbox.connection_id,
                    message_id=message_id,
                    recipe_id=recipe_id,
                    email=fetched.email,
                ),
            )
            assert item.created
    finally:
        receiver.stop()

    assert len(await inbox(world, sc.recipient)) == 1
    allowed = allowed_endpoints(world)
    # The recording saw the work: Microsoft and Vault were reached.
    assert endpoint(world.settings.ms_graph_base_url) in seen.lookups | seen.connects
    assert endpoint(world.settings.vault_addr) in seen.lookups | seen.connects
    assert outside(seen, allowed) == [], "connections outside Microsoft and the service's Vault"
