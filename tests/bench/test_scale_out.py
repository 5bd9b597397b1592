"""The scale-out benchmark's parts that decide what it reports: the balancer spreads connections over
every API and passes bytes both ways untouched, the webhooks each API took are read from its /metrics,
and a run whose emails lost items or whose second API got no webhook is a failed run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.mail.balancer import RoundRobin
from bench.mail.deployment import acknowledged
from bench.scale_out import failures, shape, summary


async def _named_server(name: bytes) -> tuple[asyncio.Server, int]:
    """Answers each line with its name and the line; after the client's half-close, says bye."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(name + b":" + line)
            await writer.drain()
        writer.write(name + b":bye\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_connections_go_to_each_backend_in_turn_and_bytes_pass_both_ways() -> None:
    a, a_port = await _named_server(b"a")
    b, b_port = await _named_server(b"b")
    balancer = RoundRobin([("127.0.0.1", a_port), ("127.0.0.1", b_port)])
    front = await asyncio.start_server(balancer.handle, "127.0.0.1", 0)
    port = front.sockets[0].getsockname()[1]
    try:
        answered = []
        for n in range(4):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"one {n}\ntwo {n}\n".encode())
            writer.write_eof()  # the backend still answers after the client's half-close
            answered.append(await reader.read())
            writer.close()
        assert answered == [
            b"a:one 0\na:two 0\na:bye\n",
            b"b:one 1\nb:two 1\nb:bye\n",
            b"a:one 2\na:two 2\na:bye\n",
            b"b:one 3\nb:two 3\nb:bye\n",
        ]
        assert balancer.counts == {("127.0.0.1", a_port): 2, ("127.0.0.1", b_port): 2}
    finally:
        for server in (front, a, b):
            server.close()


async def test_a_backend_that_is_down_refuses_the_connection() -> None:
    a, a_port = await _named_server(b"a")
    a.close()
    await a.wait_closed()
    front = await asyncio.start_server(RoundRobin([("127.0.0.1", a_port)]).handle, "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.sockets[0].getsockname()[1])
        assert await reader.read() == b""
        writer.close()
    finally:
        front.close()


def test_webhooks_acknowledged_are_read_from_one_apis_metrics() -> None:
    page = (
        "# TYPE outlook_webhook_notifications_acknowledged_total counter\n"
        'outlook_webhook_notifications_acknowledged_total{endpoint="lifecycle"} 3.0\n'
        'outlook_webhook_notifications_acknowledged_total{endpoint="change"} 217.0\n'
    )
    assert acknowledged(page) == 217.0
    assert acknowledged("# no webhook yet\n") == 0.0


def _phase(apis: int, rate: float, webhooks: list[int], committed: int = 400) -> dict[str, Any]:
    return {
        "emails": 400,
        "items_committed": committed,
        "emails_per_second": rate,
        "cpu_ms_per_email": {"all": 80.0},
        "webhooks_per_api": webhooks,
        "apis": apis,
        "load": [3.0, 2.0, 1.0],
        "load_before": [2.0, 2.0, 1.0],
    }


def test_the_summary_compares_each_shape_with_the_first() -> None:
    report = {"1x1": _phase(1, 20.0, [400]), "2x2": _phase(2, 25.0, [190, 210]), "commit": "abc1234"}
    line = summary(report, ["1x1", "2x2"])
    assert line["2x2_vs_1x1"] == 1.25
    assert line["2x2"]["webhooks_per_api"] == [190, 210]
    assert line["ok"] is True and line["failures"] == []


def test_lost_items_and_an_api_without_webhooks_fail_the_run_no_gain_does_not() -> None:
    slower = {"1x1": _phase(1, 20.0, [400]), "2x2": _phase(2, 15.0, [200, 200])}
    assert failures(slower, ["1x1", "2x2"]) == []
    one_sided = {"1x1": _phase(1, 20.0, [400]), "2x2": _phase(2, 25.0, [400, 0])}
    assert failures(one_sided, ["1x1", "2x2"]) == ["2x2: webhooks per API [400, 0]: not spread"]
    lost = {"1x1": _phase(1, 20.0, [400], committed=399)}
    assert failures(lost, ["1x1", "2x2"]) == ["1x1: 1 emails without an item", "2x2: not measured"]


def test_shapes_are_apis_by_workers() -> None:
    assert shape("2x3") == (2, 3)
    with pytest.raises(ValueError):
        shape("0x1")
