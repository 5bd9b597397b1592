"""Runs the benchmarks: `python -m bench` (all) or `python -m bench emulator [--messages N]`,
`python -m bench mail [--connections N ...]`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench import emulator_notifications, mail_pipeline

BENCHMARKS: dict[str, Callable[[list[str]], int]] = {
    "emulator": emulator_notifications.main,
    "mail": mail_pipeline.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {sorted(BENCHMARKS)})")
    args, rest = parser.parse_known_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    status = 0
    for name in args.names or list(BENCHMARKS):
        status |= BENCHMARKS[name](rest)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
