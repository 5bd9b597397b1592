"""SendEmailWorkflow's steps, one concern each: `render_email` (what to send, or why nothing),
`send_email` (one email, ever: the send ledger plus the internetMessageId and a look in Sent Items) and
`record_send` (the activity log row).

Graph's sendMail answers 202 with no id and is not idempotent, so a retry after an unknown outcome (a
timeout, a worker killed mid-call) could send a second email. The ledger row (db/outgoing_sends.py) is
committed as "attempted" before the call, and the email carries an internetMessageId derived from the
row's key. An attempt that finds the row "attempted" asks Sent Items for that id: found means sent;
not found within SENT_ITEMS_GRACE of the earlier call may only mean Exchange has not saved the copy yet
(it does so asynchronously), so it waits; not found after that means the earlier call never sent, and
it sends again. A connection without Mail.Read cannot look: the send is marked "unknown" and never
repeated (at most once), and the activity log says so.

Database calls are blocking (SQLAlchemy on an Engine): they run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

import activitylog
from activities import send_ledger as ledger
from activities.errors import retry_semantics
from activities.mailbox_access import MailboxAccess
from activities.send_items import read_event, read_sender
from activities.send_monday import monday_values
from activities.send_triggers import trigger_matches
from boards.monday.destination import MondayBoards
from boards.monday.errors import retry_semantics as monday_retry_semantics
from db.board_events import BoardEvent
from graph.errors import BadRequest, Forbidden, NotFound, Throttled
from graph.identity_errors import ReconnectRequired
from graph.mail import MailboxClient
from graph.scopes import reads_mail, sends_mail
from graph.wire import OutgoingMessage
from payloads.sends import (
    SEND_REFUSED,
    Outcome,
    RenderResult,
    SendOutcome,
    SendRecord,
    SendRequest,
    SendState,
)
from recipes.loops import OWN_MARKER_HEADER
from recipes.model import Recipe
from recipes.render import render_email
from telemetry.metrics import EMAILS_SENT
from vault.errors import TokenNotFound

# Exchange saves the Sent Items copy after it accepted the send; a look sooner than this after the
# call started proves nothing, so it waits rather than send again.
SENT_ITEMS_GRACE = timedelta(minutes=2)
UNCONFIRMED = "SendUnconfirmed"
T = TypeVar("T")
FALLBACK_DOMAIN = "outlook-integration.invalid"


def internet_message_id(request: SendRequest, mailbox: str) -> str:
    """`<outlook-integration.<event>.<recipe>@<the mailbox's domain>>`: derived from the ledger's key,
    so every attempt of one send carries the same id, in the RFC 2822 form Exchange requires."""
    domain = mailbox.rpartition("@")[2] or FALLBACK_DOMAIN
    return f"<outlook-integration.{request.event_id}.{request.recipe_id}@{domain}>"


def refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=SEND_REFUSED, non_retryable=True)


class SendEmailActivities:
    def __init__(
        self,
        access: MailboxAccess,
        engine: Engine,
        sent_items_grace: timedelta = SENT_ITEMS_GRACE,
        monday: MondayBoards | None = None,
    ) -> None:
        self._access = access
        self._engine = engine
        self._grace = sent_items_grace
        # Reads the item of an event from a monday.com board (None: such events fail to render).
        self._monday = monday

    # ----- render -----------------------------------------------------------------------------------

    @activity.defn(name="render_email")
    async def render_email(self, request: SendRequest) -> RenderResult:
        facts = await asyncio.to_thread(read_event, self._engine, request.event_id, request.recipe_id)
        if facts is None:
            return RenderResult(outcome=Outcome.SKIPPED, reason="the board event no longer exists")
        recipe = facts.recipe
        if recipe is None or not recipe.enabled or recipe.connection_id != request.connection_id:
            return RenderResult(outcome=Outcome.SKIPPED, reason="the recipe was deleted or disabled")
        name = recipe.name
        if recipe.action.type != "send_email" or not trigger_matches(recipe, facts.event):
            return RenderResult(
                outcome=Outcome.SKIPPED, reason="the recipe's trigger no longer matches", recipe_name=name
            )
        values = facts.values
        if facts.event.monday_item_id is not None:
            values = await self._monday_values(recipe, facts.event)
        if values is None:
            return RenderResult(outcome=Outcome.SKIPPED, reason="the item was deleted", recipe_name=name)
        email = render_email(recipe, values)
        if not email.to:
            return RenderResult(
                outcome=Outcome.FAILED,
                reason=f"recipe {name!r}: no valid recipient address",
                recipe_name=name,
            )
        return RenderResult(email=email, recipe_name=name)

    async def _monday_values(self, recipe: Recipe, event: BoardEvent) -> dict[str, str] | None:
        if self._monday is None:
            raise refused("monday.com is not configured in this worker")
        with monday_retry_semantics("read the monday.com item"):
            return await monday_values(await self._monday.api_for(recipe), event)

    # ----- send -------------------------------------------------------------------------------------

    @activity.defn(name="send_email")
    async def send_email(self, send: SendState) -> SendOutcome:
        try:
            outcome = await self._send_email(send)
        except ApplicationError as err:
            if err.non_retryable:
                EMAILS_SENT.labels(result="refused").inc()
            raise
        state = outcome.state.replace(" ", "_")
        EMAILS_SENT.labels(result=state if state in _SEND_STATES else "other").inc()
        return outcome

    async def _send_email(self, send: SendState) -> SendOutcome:
        request = send.request
        sender = await asyncio.to_thread(read_sender, self._engine, request.connection_id)
        if sender is None:
            raise refused("the connection no longer exists")
        if not sends_mail(sender.scopes):
            raise refused("the connection was not granted Mail.Send: reconnect it with sending allowed")
        imid = internet_message_id(request, sender.mailbox)
        claim = await asyncio.to_thread(ledger.claim, self._engine, request, imid)
        if claim.state == ledger.SENT:
            return SendOutcome(state="already sent")
        if claim.state == ledger.UNKNOWN:
            return SendOutcome(state="unknown", reason=_UNKNOWN_REASON)
        if claim.state == ledger.FAILED:
            raise refused("an earlier attempt failed for good")
        attempts = claim.attempts
        if not claim.fresh:
            verdict = await self._earlier_attempt(request, sender.scopes, claim)
            if verdict is not None:
                return verdict
            if not await asyncio.to_thread(ledger.reattempt, self._engine, request, attempts):
                raise ApplicationError("another attempt of this send is under way", type=UNCONFIRMED)
            attempts += 1
        message = OutgoingMessage(
            subject=send.email.subject,
            body=send.email.body,
            to=send.email.to,
            # The loop marker: mail this service sent never becomes an item (recipes/loops.py).
            headers={OWN_MARKER_HEADER: request.log_id()},
            internet_message_id=claim.internet_message_id,
        )
        await self._send(request, attempts, message)
        await asyncio.to_thread(ledger.settle, self._engine, request, attempts, ledger.SENT)
        return SendOutcome(state="sent")

    async def _earlier_attempt(
        self, request: SendRequest, scopes: list[str], claim: ledger.Claim
    ) -> SendOutcome | None:
        """An earlier attempt's outcome is unknown: the verdict, or None to send again."""
        found: bool | None = None  # None: cannot look (no Mail.Read)
        if reads_mail(scopes):
            with retry_semantics("find the sent mail"):
                try:
                    found = await self._call(
                        request, lambda m: m.sent_message_exists(claim.internet_message_id)
                    )
                except Forbidden:
                    found = None  # Mail.Read withdrawn meanwhile: as if never granted
        if found:
            await asyncio.to_thread(ledger.settle, self._engine, request, claim.attempts, ledger.SENT)
            return SendOutcome(state="sent", reason="found in Sent Items after an unknown outcome")
        if found is False:
            waited = datetime.now(UTC) - claim.attempted_at
            if waited < self._grace:
                raise ApplicationError(
                    "not in Sent Items yet; Exchange may still be saving it",
                    type=UNCONFIRMED,
                    next_retry_delay=max(self._grace - waited, timedelta(seconds=1)),
                )
            return None
        await asyncio.to_thread(ledger.settle, self._engine, request, claim.attempts, ledger.UNKNOWN)
        activity.logger.warning("send %s: outcome unknown, not sent again", request.log_id())
        return SendOutcome(state="unknown", reason=_UNKNOWN_REASON)

    async def _send(self, request: SendRequest, attempts: int, message: OutgoingMessage) -> None:
        try:
            await self._call(request, lambda m: m.send_mail(message))
        except Throttled as err:
            if err.status == 429:
                # Refused before anything was sent: the next attempt may send at once.
                await asyncio.to_thread(ledger.release, self._engine, request, attempts)
            with retry_semantics("send mail"):
                raise
        except (BadRequest, Forbidden, NotFound) as err:
            # Graph refused this message; it was not sent and the same request would be refused again.
            await asyncio.to_thread(ledger.settle, self._engine, request, attempts, ledger.FAILED)
            raise refused(f"Graph refused the email ({err.status} {err.code})") from None
        except (ReconnectRequired, TokenNotFound) as err:
            # No access token, so no call was made.
            await asyncio.to_thread(ledger.settle, self._engine, request, attempts, ledger.FAILED)
            with retry_semantics("send mail"):
                raise err from None
        except Exception:
            # A timeout, a 5xx, a dropped connection: sent or not, nobody knows. The row stays
            # "attempted"; the retry looks in Sent Items first.
            with retry_semantics("send mail"):
                raise

    async def _call(self, request: SendRequest, fn: Callable[[MailboxClient], Awaitable[T]]) -> T:
        return await self._access.call(request.connection_id, fn)

    # ----- record -----------------------------------------------------------------------------------

    @activity.defn(name="record_send")
    async def record_send(self, record: SendRecord) -> None:
        request, result = record.request, record.result
        details = [
            {
                "recipe_id": request.recipe_id,
                "recipe": record.recipe_name,
                "result": result.outcome.value,
                "reason": result.reason,
                "missing": record.missing,
            }
        ]
        await asyncio.to_thread(
            activitylog.record_outcome,
            self._engine,
            request.connection_id,
            request.log_id(),
            result.outcome.value,
            result.reason,
            0,
            direction="outgoing",
            details=details,
        )

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.render_email, self.send_email, self.record_send]


_SEND_STATES = frozenset({"sent", "already_sent", "unknown"})
_UNKNOWN_REASON = (
    "the send's outcome is unknown and the connection may not read Sent Items (no Mail.Read) to check; "
    "not sent again"
)
