"""`messages retry` and `messages retry-failed`: process failed messages again. The connection's
workflow starts each one anew; the item ledger keeps every recipe to one item per message."""

from __future__ import annotations

import argparse
from typing import Any

from cli.client import segment
from cli.context import Context, an_id
from cli.output import when
from cli.times import since_arg

# The API takes at most this many failures per retry-failed call (api/routes/message_retry.py).
RETRY_FAILED_MAX = 5000


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("messages", help="retry failed messages")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    one = actions.add_parser("retry", parents=[common], help="process one failed message again")
    one.add_argument("connection_id", type=an_id("connection"), metavar="CONNECTION_ID")
    one.add_argument("message_id", metavar="MESSAGE_ID", help="as `activity --json` shows it")
    one.set_defaults(handler=retry)
    every = actions.add_parser(
        "retry-failed",
        parents=[common],
        help="process again every message of the connection that failed since a time",
    )
    every.add_argument("connection_id", type=an_id("connection"), metavar="CONNECTION_ID")
    every.add_argument(
        "--since",
        type=since_arg,
        required=True,
        metavar="TIME",
        help="a time with its zone (2026-12-06T18:00:00Z) or a duration back from now (30m, 6h, 2d, 1w)",
    )
    every.set_defaults(handler=retry_failed)


async def retry(ctx: Context, args: argparse.Namespace) -> int:
    path = f"/api/connections/{segment(args.connection_id)}/messages/{segment(args.message_id)}/retry"
    answer = await ctx.api.post(path)
    if ctx.out.as_json:
        ctx.out.json(answer)
    else:
        ctx.out.line("Retrying 1 message; `activity` shows its new outcome once processed.")
    return 0


async def retry_failed(ctx: Context, args: argparse.Namespace) -> int:
    path = f"/api/connections/{segment(args.connection_id)}/retry-failed"
    answer = await ctx.api.post(path, {"since": args.since.isoformat()})
    since = when(args.since.isoformat())
    n = answer["count"]
    if ctx.out.as_json:
        ctx.out.json(answer)
    elif n == 0:
        ctx.out.line(f"No message failed since {since}; nothing to retry.")
    else:
        many = n != 1
        ctx.out.line(
            f"Retrying {n} message{'s' if many else ''} that failed since {since}; `activity` shows "
            f"{'their new outcomes' if many else 'its new outcome'} once processed."
        )
    if n >= RETRY_FAILED_MAX:
        ctx.out.note(
            f"The API takes at most {RETRY_FAILED_MAX} per call, oldest first: run it again with the "
            "time of the last one retried (`activity --outcome failed --json`) for the rest."
        )
    return 0
