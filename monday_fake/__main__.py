"""Runs the fake: `python -m monday_fake [--host H] --port P [--token T ...]`."""

from __future__ import annotations

import argparse

import uvicorn

from monday_fake.app import create_app
from monday_fake.control import FakeServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monday_fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", action="append", default=[], help="an API token the fake accepts")
    args = parser.parse_args(argv)
    server = FakeServer()
    server.state.tokens.update(args.token)
    uvicorn.run(create_app(server), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
