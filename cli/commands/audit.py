"""`audit`: the audit log, newest first (admins: the account's; members: their own connections' and
actions)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context, an_id, positive
from cli.output import text, when

# For the help only: the API decides (a kind added by a newer release works without a new CLI).
KINDS = "token_read, connect, reconnect, connect_undone, disconnect_requested, disconnected, revoked, ..."


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("audit", parents=[common], help="the audit log, newest first")
    parser.add_argument("--connection", type=an_id("connection"), metavar="ID", help="only this one's")
    parser.add_argument("--kind", help=f"only entries of this kind ({KINDS})")
    parser.add_argument("--limit", type=positive, default=50, help="at most this many (default 50, max 500)")
    parser.add_argument(
        "--before", type=positive, metavar="ENTRY_ID", help="entries older than this one (the next page)"
    )
    parser.set_defaults(handler=audit)


def actor(entry: dict[str, Any]) -> str:
    if entry["actor"] == "user":
        return f"user {entry['actor_user_id']}"
    return text(entry.get("workflow_id") or entry.get("service"))


async def audit(ctx: Context, args: argparse.Namespace) -> int:
    page = await ctx.api.get(
        "/api/audit",
        connection_id=args.connection,
        kind=args.kind,
        limit=args.limit,
        before=args.before,
    )
    if ctx.out.as_json:
        ctx.out.json(page)
        return 0
    if not page["data"]:
        ctx.out.line("No audit entries.")
        return 0
    rows = [
        [str(e["id"]), when(e["at"]), e["kind"], actor(e), text(e.get("connection_id")), text(e["detail"])]
        for e in page["data"]
    ]
    ctx.out.table(["ID", "AT", "KIND", "BY", "CONNECTION", "DETAIL"], rows)
    if page["count"] >= args.limit:
        ctx.out.note(f"More may be older: audit --before {page['data'][-1]['id']}")
    return 0
