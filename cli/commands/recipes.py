"""`recipes list|show|enable|disable`: the caller's recipes (what makes mail into items, and board
changes into emails). Creating and changing one is the API's or the pages' job."""

from __future__ import annotations

import argparse
from typing import Any

from cli.client import segment
from cli.context import Context, an_id
from cli.output import text, when

BASE = "/api/recipes"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("recipes", help="your recipes")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="every recipe, oldest first")
    listing.add_argument("--connection", type=an_id("connection"), metavar="ID", help="only this one's")
    listing.set_defaults(handler=list_recipes)
    show = actions.add_parser("show", parents=[common], help="one recipe with its trigger and action")
    show.add_argument("recipe_id", type=an_id("recipe"), metavar="ID")
    show.set_defaults(handler=show_recipe)
    for name, enabled in (("enable", True), ("disable", False)):
        switch = actions.add_parser(name, parents=[common], help=f"{name} a recipe")
        switch.add_argument("recipe_id", type=an_id("recipe"), metavar="ID")
        switch.set_defaults(handler=set_enabled, enabled=enabled)


def summary(r: dict[str, Any]) -> str:
    """`email_received -> create_item`: the recipe's kind in a few words."""
    return f"{r['trigger'].get('type', '?')} -> {r['action'].get('type', '?')}"


def attention(r: dict[str, Any]) -> str:
    needs = r.get("needs_attention")
    return f"{needs['reason']} (since {when(needs['since'])})" if needs else "-"


async def list_recipes(ctx: Context, args: argparse.Namespace) -> int:
    page = await ctx.api.get(BASE, connection_id=args.connection)
    if ctx.out.as_json:
        ctx.out.json(page)
        return 0
    if not page["data"]:
        ctx.out.line("No recipes yet. Create one with POST /api/recipes (README, Try it).")
        return 0
    rows = [
        [r["id"], r["name"], text(r["enabled"]), summary(r), r["connection_id"], attention(r)]
        for r in page["data"]
    ]
    ctx.out.table(["ID", "NAME", "ENABLED", "KIND", "CONNECTION", "NEEDS ATTENTION"], rows)
    return 0


def show_fields(ctx: Context, r: dict[str, Any]) -> None:
    ctx.out.fields(
        [
            ("ID", r["id"]),
            ("Name", r["name"]),
            ("Enabled", text(r["enabled"])),
            ("Kind", summary(r)),
            ("Connection", r["connection_id"]),
            ("Needs attention", attention(r)),
            ("Created", when(r.get("created_at"))),
            ("Changed", when(r.get("updated_at"))),
        ]
    )


async def show_recipe(ctx: Context, args: argparse.Namespace) -> int:
    r = await ctx.api.get(f"{BASE}/{segment(args.recipe_id)}")
    if ctx.out.as_json:
        ctx.out.json(r)
        return 0
    show_fields(ctx, r)
    ctx.out.line("Trigger and action: --json")
    return 0


async def set_enabled(ctx: Context, args: argparse.Namespace) -> int:
    r = await ctx.api.patch(f"{BASE}/{segment(args.recipe_id)}", {"enabled": args.enabled})
    if ctx.out.as_json:
        ctx.out.json(r)
    else:
        ctx.out.line(f"Recipe {r['name']!r} is {'enabled' if r['enabled'] else 'disabled'}.")
    return 0
