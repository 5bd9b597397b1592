"""Runs the emulator: `python -m emulator --host H --port P --data-dir D [--snapshot F | --no-snapshot]`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from emulator.app import create_app
from emulator.certs import ensure_certificates
from emulator.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir", type=Path)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--snapshot", type=Path, help="state snapshot file (default <data-dir>/state.json)")
    group.add_argument("--no-snapshot", action="store_true", help="keep state in memory only")
    args = parser.parse_args(argv)

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.snapshot:
        overrides["snapshot"] = args.snapshot
    if args.no_snapshot:
        overrides["no_snapshot"] = True
    settings = EmulatorSettings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    _ca, cert, key = ensure_certificates(settings.data_dir)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=False,  # the loopback-only control API trusts the socket peer, never a header
        # An idle TLS keep-alive client (MSAL's requests session) never answers close_notify; without a
        # bound, shutdown waits for asyncio's 30 s SSL shutdown timeout and the snapshot is never flushed.
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
