"""The message workflow's writing steps, one activity each, once per matched recipe:

- `create_item`: a create_item recipe's item; with "replies": "update", a message of a conversation the
  recipe already made an item for becomes an update on that item instead (recipes.threads).
- `create_update`: a create_update recipe's update on the item its find clause names.
- `attach_files`: the email's attachments onto the item, fetched from Graph inside the activity (the
  bytes never pass through Temporal).

Every write is idempotent by (recipe, message) at the destination (boards.destination), so a retry, a
crash or a replay never writes twice. A board that no longer fits the recipe fails that recipe alone,
without retries (RECIPE_BROKEN); the workflow goes on with the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attachment_files import file_drafts
from activities.destinations import Destinations
from activities.errors import retry_semantics
from activities.mailbox_access import MailboxAccess
from activities.recipe_cache import RecipeCache
from boards.destination import Destination, ThreadTaken, Written
from boards.errors import BoardStoreError
from boards.monday.errors import retry_semantics as monday_retry_semantics
from graph.errors import NotFound
from payloads.messages import RECIPE_BROKEN, AttachRequest, AttachResult, ItemRequest, ItemResult
from recipes.model import CreateItemAction, CreateUpdateAction, Recipe
from recipes.render import NO_SUBJECT, render_create_item, render_update
from recipes.threads import claim_keys, lookup_keys
from telemetry.metrics import observe_end_to_end


@contextmanager
def writing(recipe: Recipe) -> Iterator[None]:
    """A destination's failures as the workflow's retry semantics. One that retrying cannot mend (the
    board lost its group or column; monday.com refused the token or the board) fails this recipe alone
    (RECIPE_BROKEN); waits monday.com asks for are honoured; anything else is retried."""
    try:
        with monday_retry_semantics(f"recipe {recipe.name!r}"):
            yield
    except BoardStoreError as err:
        raise ApplicationError(
            f"recipe {recipe.name!r}: {err}", type=RECIPE_BROKEN, non_retryable=True
        ) from None
    except ApplicationError as err:
        if err.non_retryable and err.type != RECIPE_BROKEN:
            raise ApplicationError(err.message, type=RECIPE_BROKEN, non_retryable=True) from None
        raise


def _gone(what: str) -> ApplicationError:
    return ApplicationError(
        f"the recipe was deleted, disabled or changed before its {what} was made",
        type=RECIPE_BROKEN,
        non_retryable=True,
    )


class MessageWrites:
    def __init__(self, access: MailboxAccess, recipes: RecipeCache, destinations: Destinations) -> None:
        self._access = access
        self._recipes = recipes
        self._destinations = destinations

    @activity.defn(name="create_item")
    async def create_item(self, request: ItemRequest) -> ItemResult:
        recipe = await self._recipes.find(request.connection_id, request.recipe_id)
        if recipe is None or not isinstance(recipe.action, CreateItemAction):
            raise _gone("item")
        action = recipe.action
        destination = self._destinations.for_recipe(recipe)
        email = request.email
        missing: list[str] = []
        with writing(recipe):
            written, kind = await self._item_or_reply(destination, recipe, action, request, missing)
        if written.created:
            observe_end_to_end(email.received_at, kind)
        return ItemResult(
            item_id=written.id,
            created=written.created,
            kind=kind,
            recipe_name=recipe.name,
            missing=missing,
            attach=action.attachments and kind == "item" and email.has_attachments is not False,
        )

    async def _item_or_reply(
        self,
        destination: Destination,
        recipe: Recipe,
        action: CreateItemAction,
        request: ItemRequest,
        missing: list[str],
    ) -> tuple[Written, str]:
        email = request.email
        threads = action.replies == "update"
        if threads:
            earlier = await destination.item_for_thread(recipe, lookup_keys(email))
            # A retry of this step finds the item its own earlier attempt made (the message's
            # conversation is now that item's): that is this message's item, not a reply's.
            if earlier is not None and await destination.made_of(recipe, request.message_id) != "item":
                return await self._reply(destination, recipe, action, request, earlier, missing), "update"
        rendered = render_create_item(action, email)
        missing.extend(rendered.item_missing)
        try:
            written = await destination.create_item_once(
                recipe, request.message_id, rendered.draft, claim_keys(email) if threads else ()
            )
        except ThreadTaken as taken:
            # Another message of the conversation made the item a moment ago: this one is its update.
            return await self._reply(destination, recipe, action, request, taken.item_id, missing), "update"
        return written, "item"

    async def _reply(
        self,
        destination: Destination,
        recipe: Recipe,
        action: CreateItemAction,
        request: ItemRequest,
        item_id: str,
        missing: list[str],
    ) -> Written:
        rendered = render_create_item(action, request.email)
        missing.extend(rendered.reply_missing)
        body = rendered.reply_update or NO_SUBJECT
        return await destination.add_update_once(recipe, request.message_id, item_id, body)

    @activity.defn(name="create_update")
    async def create_update(self, request: ItemRequest) -> ItemResult:
        recipe = await self._recipes.find(request.connection_id, request.recipe_id)
        if recipe is None or not isinstance(recipe.action, CreateUpdateAction):
            raise _gone("update")
        action = recipe.action
        destination = self._destinations.for_recipe(recipe)
        rendered = render_update(action, request.email)
        missing = rendered.missing
        wanted = rendered.find_value
        with writing(recipe):
            item_id = await destination.find_item(recipe, action.find.column, wanted) if wanted else None
            if item_id is None:
                # The value came from the email: the reason names the column, never the value.
                return ItemResult(
                    item_id="",
                    created=False,
                    kind="update",
                    recipe_name=recipe.name,
                    missing=missing,
                    reason=f"no item whose {action.find.column!r} matches",
                )
            body = rendered.body or NO_SUBJECT
            written = await destination.add_update_once(recipe, request.message_id, item_id, body)
        if written.created:
            observe_end_to_end(request.email.received_at, "update")
        return ItemResult(
            item_id=written.id,
            created=written.created,
            kind="update",
            recipe_name=recipe.name,
            missing=missing,
        )

    @activity.defn(name="attach_files")
    async def attach_files(self, request: AttachRequest) -> AttachResult:
        recipe = await self._recipes.find(request.connection_id, request.recipe_id)
        if recipe is None:
            raise _gone("files")
        destination = self._destinations.for_recipe(recipe)
        with retry_semantics("fetch attachments"):
            try:
                attachments = await self._access.call(
                    request.connection_id, lambda m: m.attachments(request.message_id)
                )
            except NotFound:
                return AttachResult()
        files, skipped = await asyncio.to_thread(file_drafts, attachments)
        with writing(recipe):
            added = await destination.attach_files(recipe, request.item_id, files)
        return AttachResult(added=added, skipped=skipped)

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.create_item, self.create_update, self.attach_files]
