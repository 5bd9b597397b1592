"""A TCP load balancer for the scale-out benchmark: what docker-compose.yml's proxy is to the API
replicas, on this machine. Each new connection goes to the next backend in turn and its bytes are piped
both ways untouched, so HTTP (keep-alive, redirects, cookies) works as it does against one API.

Round robin per connection, not per request: the emulator keeps up to four keep-alive connections per
notification URL, which land two on each of two APIs. Run as `python -m bench.mail.balancer --port P
--backend 127.0.0.1:A --backend 127.0.0.1:B` (its own process: its CPU is not the benchmark's loop's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies until end of stream, then passes the half-close on (the other direction may go on)."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


class RoundRobin:
    def __init__(self, backends: list[tuple[str, int]]) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self._next = itertools.cycle(backends)
        # Connections handed to each backend so far (for tests and the log).
        self.counts = dict.fromkeys(backends, 0)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = next(self._next)
        self.counts[backend] += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*backend)
        except OSError:
            writer.close()  # the client sees the connection refused, as it would without us
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (up_writer, writer):
                w.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await w.wait_closed()


async def serve(port: int, backends: list[tuple[str, int]], host: str = "127.0.0.1") -> None:
    """Until SIGTERM or SIGINT."""
    balancer = RoundRobin(backends)
    server = await asyncio.start_server(balancer.handle, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"balancing {host}:{port} over {backends}", flush=True)
        await stop.wait()
    print(f"connections per backend: {balancer.counts}", flush=True)


def _backend(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.mail.balancer")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend", type=_backend, action="append", required=True, help="host:port")
    args = p.parse_args()
    asyncio.run(serve(args.port, args.backend))


if __name__ == "__main__":
    main()
