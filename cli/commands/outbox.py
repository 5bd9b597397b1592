"""`outbox`: the webhook outbox's depth and its oldest row's age, as the API's /metrics page reports
them (notifications Graph was told we have that no connection workflow has taken yet)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.client import ApiError
from cli.context import Context

DEPTH = "outlook_outbox_depth"
OLDEST = "outlook_outbox_oldest_age_seconds"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "outbox", parents=[common], help="notifications waiting for their workflows: depth and oldest age"
    )
    parser.set_defaults(handler=outbox)


def gauges(page: str, names: tuple[str, ...]) -> dict[str, float]:
    """Unlabelled samples of `names` in Prometheus's text format."""
    found: dict[str, float] = {}
    for line in page.splitlines():
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[0] in names:
            try:
                found[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return found


def age_words(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


async def outbox(ctx: Context, args: argparse.Namespace) -> int:
    found = gauges(await ctx.api.text("/metrics"), (DEPTH, OLDEST))
    if DEPTH not in found:
        # The API leaves the gauges out of a scrape when it cannot read its database.
        raise ApiError(None, "the API's /metrics page has no outbox figures (its database did not answer)")
    depth, oldest = int(found[DEPTH]), found.get(OLDEST, 0.0)
    if ctx.out.as_json:
        ctx.out.json({"depth": depth, "oldest_age_seconds": oldest})
    elif depth == 0:
        ctx.out.line("The outbox is empty: every notification has been taken by its workflow.")
    else:
        age = f"{age_words(oldest)} old"
        ctx.out.fields([("Depth", f"{depth} notification(s) waiting"), ("Oldest", age)])
    return 0
