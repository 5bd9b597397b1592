"""`boards list|show`: the boards the caller sees (their own and the account's shared ones)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.client import segment
from cli.context import Context, an_id
from cli.output import text, when

BASE = "/api/boards"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("boards", help="the boards you see")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every board, oldest first").set_defaults(
        handler=list_boards
    )
    show = actions.add_parser("show", parents=[common], help="one board's groups and columns")
    show.add_argument("board_id", type=an_id("board"), metavar="ID")
    show.set_defaults(handler=show_board)


def titles(entries: list[dict[str, Any]]) -> str:
    return text([e["title"] for e in entries])


async def list_boards(ctx: Context, args: argparse.Namespace) -> int:
    page = await ctx.api.get(BASE)
    if ctx.out.as_json:
        ctx.out.json(page)
        return 0
    if not page["data"]:
        ctx.out.line("No boards yet. Create one with POST /api/boards (README, Try it).")
        return 0
    rows = [
        [b["id"], b["name"], b.get("visibility", "-"), titles(b["groups"]), titles(b["columns"])]
        for b in page["data"]
    ]
    ctx.out.table(["ID", "NAME", "VISIBILITY", "GROUPS", "COLUMNS"], rows)
    return 0


def column_words(column: dict[str, Any]) -> str:
    labels = column.get("labels") or []
    return f"{column['title']} ({column['type']}{': ' + ', '.join(labels) if labels else ''})"


async def show_board(ctx: Context, args: argparse.Namespace) -> int:
    b = await ctx.api.get(f"{BASE}/{segment(args.board_id)}")
    if ctx.out.as_json:
        ctx.out.json(b)
        return 0
    ctx.out.fields(
        [
            ("ID", b["id"]),
            ("Name", b["name"]),
            ("Visibility", text(b.get("visibility"))),
            ("Groups", titles(b["groups"])),
            ("Columns", text([column_words(c) for c in b["columns"]])),
            ("Created", when(b.get("created_at"))),
        ]
    )
    return 0
