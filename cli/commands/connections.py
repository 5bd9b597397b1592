"""`connections list|show|resync|disconnect|reconnect`: the caller's mailbox connections."""

from __future__ import annotations

import argparse
from typing import Any

from cli.client import segment
from cli.context import Context, an_id
from cli.output import text, when

BASE = "/api/connections"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("connections", help="your mailbox connections")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every connection, newest first").set_defaults(
        handler=list_connections
    )
    show = actions.add_parser("show", parents=[common], help="one connection in detail")
    show.add_argument("connection_id", type=an_id("connection"), metavar="ID")
    show.set_defaults(handler=show_connection)
    resync = actions.add_parser(
        "resync",
        parents=[common],
        help="re-check the mailbox and fetch any mail the connection missed",
        description=(
            "Asks the connection to catch up: it re-reads its mailbox from where it last read and "
            "processes every message it has not seen, as after Graph's `missed` notice."
        ),
    )
    resync.add_argument("connection_id", type=an_id("connection"), metavar="ID")
    resync.set_defaults(handler=resync_connection)
    gone = actions.add_parser(
        "disconnect",
        parents=[common],
        help="delete the subscription and every stored token (asks first)",
    )
    gone.add_argument("connection_id", type=an_id("connection"), metavar="ID")
    gone.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    gone.set_defaults(handler=disconnect)
    again = actions.add_parser(
        "reconnect", parents=[common], help="a consent URL to open in a browser to connect again"
    )
    again.add_argument("connection_id", type=an_id("connection"), metavar="ID")
    again.set_defaults(handler=reconnect)


def status_words(c: dict[str, Any]) -> str:
    reason = c.get("status_reason")
    return f"{c['status']} ({reason})" if reason else str(c["status"])


async def list_connections(ctx: Context, args: argparse.Namespace) -> int:
    page = await ctx.api.get(BASE)
    if ctx.out.as_json:
        ctx.out.json(page)
        return 0
    if not page["data"]:
        ctx.out.line(f"No connections yet. Connect a mailbox at {ctx.target.base_url}/connections")
        return 0
    rows = [
        [
            c["id"],
            c["mailbox"],
            status_words(c),
            when(c.get("last_notification_at")),
            when(c.get("subscription_expires_at")),
        ]
        for c in page["data"]
    ]
    ctx.out.table(["ID", "MAILBOX", "STATUS", "LAST NOTIFICATION", "SUBSCRIPTION EXPIRES"], rows)
    return 0


async def show_connection(ctx: Context, args: argparse.Namespace) -> int:
    c = await ctx.api.get(f"{BASE}/{segment(args.connection_id)}")
    if ctx.out.as_json:
        ctx.out.json(c)
        return 0
    ctx.out.fields(
        [
            ("ID", c["id"]),
            ("Mailbox", c["mailbox"]),
            ("Name", text(c.get("display_name"))),
            ("Status", status_words(c)),
            ("Permissions", text(c.get("granted_scopes"))),
            ("Subscription expires", when(c.get("subscription_expires_at"))),
            ("Last notification", when(c.get("last_notification_at"))),
            ("Connected", when(c.get("created_at"))),
        ]
    )
    return 0


async def resync_connection(ctx: Context, args: argparse.Namespace) -> int:
    answer = await ctx.api.post(f"{BASE}/{segment(args.connection_id)}/resync")
    if ctx.out.as_json:
        ctx.out.json(answer)
    else:
        ctx.out.line(f"Catch-up requested for {answer['mailbox']}: {answer['detail']}.")
        ctx.out.line(f"`activity {answer['id']}` shows what became of each message.")
    return 0


async def disconnect(ctx: Context, args: argparse.Namespace) -> int:
    path = f"{BASE}/{segment(args.connection_id)}"
    c = await ctx.api.get(path)
    if c["status"] == "disconnected":
        if ctx.out.as_json:
            ctx.out.json(c)
        else:
            ctx.out.line(f"{c['mailbox']} is already disconnected.")
        return 0
    if not args.yes:
        question = (
            f"Disconnect {c['mailbox']} ({c['id']})? Its Graph subscription and every stored token are "
            "deleted; mail is no longer read."
        )
        if not ctx.confirm(question):
            ctx.out.note("Not disconnected (pass --yes to disconnect without being asked).")
            return 1
    answer = await ctx.api.delete(path)
    if ctx.out.as_json:
        ctx.out.json(answer)
    else:
        ctx.out.line(
            f"Disconnect requested for {answer['mailbox']}: its workflow deletes the subscription and the "
            f"tokens, then ends. `connections show {answer['id']}` says disconnected once it is done."
        )
    return 0


async def reconnect(ctx: Context, args: argparse.Namespace) -> int:
    answer = await ctx.api.post(f"{BASE}/{segment(args.connection_id)}/reconnect")
    if ctx.out.as_json:
        ctx.out.json(answer)
    else:
        ctx.out.line("Open this address in a browser signed in to the mailbox and accept:")
        ctx.out.line(answer["url"])
    return 0
