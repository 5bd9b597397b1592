"""What the board page shows, read in one go: the board's groups with their items, each item's updates
with where they came from, and whether the viewer may change the board itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from boards import access, service
from boards.change_schemas import AffectedRecipe
from boards.sanitise import sanitise_html
from boards.schemas import BoardPublic, ColumnPublic, GroupPublic, ItemPublic
from db.accounts import User
from db.boards import LedgerEntry
from db.recipes import RecipeRow
from recipes.affected import affected_recipes

# Items shown on one page; a bigger board says so and points to the API, which pages through them all.
ITEMS_SHOWN = 500

BY_PERSON = "added through the API"
BY_OTHERS_RECIPE = "from an email, by another member's recipe"
BY_DELETED_RECIPE = "from an email, by a recipe since deleted"


@dataclass(frozen=True)
class UpdateView:
    body: Markup
    source: str
    created_at: datetime


@dataclass(frozen=True)
class ItemView:
    item: ItemPublic
    updates: list[UpdateView]
    # Long-text values by column title: stored as sanitised HTML (boards.values), shown as such.
    rich: dict[str, Markup]


@dataclass(frozen=True)
class GroupView:
    group: GroupPublic
    items: list[ItemView] = field(default_factory=list)


@dataclass(frozen=True)
class BoardView:
    board: BoardPublic
    groups: list[GroupView]
    status_columns: list[ColumnPublic]
    # The table's columns: status first, so that the select is in view on a narrow screen.
    columns: list[ColumnPublic]
    may_change: bool
    owned: bool
    item_count: int
    more_items: bool
    # The viewer's own recipes of this board that no longer fit it (after a rename, say): they fail
    # until edited. Other members' recipes are theirs to see.
    broken_recipes: list[AffectedRecipe]


def board_view(session: Session, user: User, board: BoardPublic) -> BoardView:
    """The board as the page shows it to `user` (who sees it: the caller checked)."""
    items = service.list_items(session, board, limit=ITEMS_SHOWN + 1)
    more = len(items) > ITEMS_SHOWN
    items = items[:ITEMS_SHOWN]
    sources = _update_sources(session, user, [u.id for i in items for u in i.updates])
    long_texts = [c.title for c in board.columns if c.type == "long_text"]
    groups = {g.id: GroupView(g) for g in board.groups}
    for item in items:
        updates = [
            UpdateView(_safe(u.body), sources.get(u.id, BY_PERSON), u.created_at) for u in item.updates
        ]
        rich = {title: _safe(item.columns.get(title) or "") for title in long_texts}
        view = groups.get(item.group_id)
        if view is not None:
            view.items.append(ItemView(item, updates, rich))
    row = access.visible_row(session, user, board.id)
    return BoardView(
        board=board,
        groups=list(groups.values()),
        status_columns=[c for c in board.columns if c.type == "status"],
        columns=sorted(board.columns, key=lambda c: c.type != "status"),
        may_change=row is not None and access.may_change(row, user),
        owned=board.owner_id == user.id,
        item_count=len(items),
        more_items=more,
        broken_recipes=[r for owner, r in affected_recipes(session, board, []) if owner == user.id],
    )


def _update_sources(session: Session, user: User, update_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Update id -> where it came from, for the updates a recipe made of an email (the recipe ledger
    names them); the others were added through the API. Another member's recipe is not named."""
    if not update_ids:
        return {}
    entries = session.execute(
        select(LedgerEntry.target_id, LedgerEntry.recipe_id).where(
            LedgerEntry.kind == "update", LedgerEntry.target_id.in_([str(i) for i in update_ids])
        )
    ).all()
    recipe_ids = {_uuid(r) for _, r in entries} - {None}
    recipes = {
        r.id: r
        for r in session.execute(
            select(RecipeRow.id, RecipeRow.name, RecipeRow.owner_id).where(RecipeRow.id.in_(recipe_ids))
        )
    }
    sources: dict[uuid.UUID, str] = {}
    for target, recipe_id in entries:
        update_id = _uuid(target)
        if update_id is None:
            continue
        recipe = recipes.get(_uuid(recipe_id))
        if recipe is None:
            sources[update_id] = BY_DELETED_RECIPE
        elif recipe.owner_id == user.id:
            sources[update_id] = f"from an email, by your recipe \u201c{recipe.name}\u201d"
        else:
            sources[update_id] = BY_OTHERS_RECIPE
    return sources


def _safe(html: str) -> Markup:
    # Made safe when stored and again here, so only the allow-listed tags reach the page whatever wrote
    # the row: nh3's output is markup by design (boards/sanitise.py).
    return Markup(sanitise_html(html))  # noqa: S704


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
