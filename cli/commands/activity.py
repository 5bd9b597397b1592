"""`activity ID`: what became of a connection's messages, newest first (never email content)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.client import segment
from cli.context import Context, an_id, positive
from cli.output import short, when

OUTCOMES = ("processed", "skipped", "failed")
# The API's largest page; an --outcome filter looks at this many of the newest outcomes.
API_MAX_LIMIT = 1000
DEFAULT_LIMIT = 50


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "activity", parents=[common], help="what became of a connection's messages, newest first"
    )
    parser.add_argument("connection_id", type=an_id("connection"), metavar="ID")
    parser.add_argument(
        "--outcome",
        choices=OUTCOMES,
        help=f"only this outcome (looked for among the newest {API_MAX_LIMIT} outcomes)",
    )
    parser.add_argument(
        "--limit",
        type=positive,
        default=DEFAULT_LIMIT,
        help=f"at most this many (default {DEFAULT_LIMIT}, at most {API_MAX_LIMIT})",
    )
    parser.set_defaults(handler=activity)


def reason_words(entry: dict[str, Any]) -> str:
    """The outcome's reason, and each failed recipe's own reason after it."""
    parts = [entry["reason"]] if entry.get("reason") else []
    for r in entry.get("recipes", []):
        if r.get("result") == "failed":
            parts.append(f"{r['recipe']}: {r['reason']}")
    return "; ".join(parts) or "-"


async def activity(ctx: Context, args: argparse.Namespace) -> int:
    asked = API_MAX_LIMIT if args.outcome else args.limit
    page = await ctx.api.get(f"/api/connections/{segment(args.connection_id)}/activity", limit=asked)
    entries = page["data"]
    if args.outcome:
        entries = [e for e in entries if e["outcome"] == args.outcome][: args.limit]
    if ctx.out.as_json:
        ctx.out.json({"data": entries, "count": len(entries)})
        return 0
    if not entries:
        which = f"{args.outcome} " if args.outcome else ""
        ctx.out.line(f"No {which}messages recorded for this connection yet.")
    else:
        rows = [
            [
                when(e["recorded_at"]),
                e["direction"],
                e["outcome"],
                str(e["items_created"]),
                short(e["message_id"]),
                reason_words(e),
            ]
            for e in entries
        ]
        ctx.out.table(["RECORDED", "DIRECTION", "OUTCOME", "ITEMS", "MESSAGE", "REASON"], rows)
        if any(len(e["message_id"]) > len(short(e["message_id"])) for e in entries):
            ctx.out.note("Message ids are shortened; --json shows them whole.")
    if args.outcome and page["count"] >= API_MAX_LIMIT and len(entries) < args.limit:
        ctx.out.note(f"Only the newest {API_MAX_LIMIT} outcomes were searched.")
    return 0
