"""Runs the benchmarks: `python -m bench` (`make bench`: all of them in full, then
bench/results/<date>.json and the generated table in bench/README.md; extra options go to the mail
benchmark), `python -m bench quick` (`make bench-quick`: a short form of each, a JSON line last), or one:
`python -m bench emulator [--messages N]`, `python -m bench mail [--connections N ...]`,
`python -m bench scale-out [--shapes 1x1 2x2 ...]`, `python -m bench scale [--days 90 --sizes ...]`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench import emulator_notifications, mail_pipeline, quick, scale, scale_out

BENCHMARKS: dict[str, Callable[[list[str]], int]] = {
    "emulator": emulator_notifications.main,
    "mail": mail_pipeline.main,
    "scale": scale.main,
    "scale-out": scale_out.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {sorted(BENCHMARKS)}), or quick"
    )
    args, rest = parser.parse_known_args()
    if args.names == ["quick"]:
        return quick.main(rest)
    if not args.names:
        return quick.bench_all(rest)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}, or quick alone")
    status = 0
    for name in args.names:
        status |= BENCHMARKS[name](rest)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
