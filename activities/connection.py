"""The connection workflow's activities: thin adapters over Vault, the identity platform, Graph and the
application database. Secrets are read from Vault here and never leave this module's calls: inputs and
results carry ids, instants and statuses only. The database is written in a worker thread: the worker's
event loop runs every other activity and workflow task meanwhile, and a write may wait on SQLite's lock.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import Engine, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import retry_semantics
from activities.mailbox_access import MailboxAccess
from activities.subscription_conflict import stale_conflicts
from activities.subscription_resource import same_resource, subscription_resource
from audit.record import status_changed
from db.connections import Connection
from db.engine import session_scope
from graph.errors import Conflict, Forbidden, NotFound, ScopeNotGranted
from graph.identity_errors import ReconnectRequired
from graph.scopes import reads_mail
from graph.wire import Subscription
from payloads.connection import (
    SUBSCRIPTION_GONE,
    ConnectionRef,
    ConnectionStatus,
    RefreshResult,
    StatusRecord,
    SubscriptionInfo,
    SubscriptionRef,
    SubscriptionRequest,
    ValidationResult,
)
from recipes.model import EmailReceivedTrigger
from recipes.store import recipes_for_connection
from telemetry.metrics import REVOCATIONS, SUBSCRIPTION_RENEWALS

CHANGE_TYPE = "created"


class ConnectionActivities:
    def __init__(self, access: MailboxAccess, engine: Engine, public_base_url: str) -> None:
        self._access = access
        self._tokens = access.tokens
        self._with_mailbox = access.call
        self._engine = engine
        base = public_base_url.rstrip("/")
        self._notification_url = f"{base}/webhooks/graph"
        self._lifecycle_url = f"{base}/webhooks/graph/lifecycle"

    # ----- tokens ---------------------------------------------------------------------------------

    @activity.defn(name="describe_tokens")
    async def describe_tokens(self, ref: ConnectionRef) -> RefreshResult:
        with retry_semantics("read tokens"):
            stored = await self._tokens.load(ref.connection_id)
        return RefreshResult(access_expires_at=stored.expires_at)

    @activity.defn(name="refresh_tokens")
    async def refresh_tokens(self, ref: ConnectionRef) -> RefreshResult:
        with retry_semantics("refresh tokens"):
            stored = await self._access.refresh(ref.connection_id)
        return RefreshResult(access_expires_at=stored.expires_at)

    # ----- mailbox --------------------------------------------------------------------------------

    @activity.defn(name="validate_mailbox")
    async def validate_mailbox(self, ref: ConnectionRef) -> ValidationResult:
        """Proves the grant works: the latest inbox message's id (or the profile, for send-only
        connections) is fetched and dropped; nothing about the message is kept or logged."""
        stored_scopes = await self._scopes(ref.connection_id)
        with retry_semantics("validity check"):
            try:
                if reads_mail(stored_scopes):
                    await self._with_mailbox(ref.connection_id, lambda m: m.latest_inbox_message_id())
                else:
                    await self._with_mailbox(ref.connection_id, lambda m: m.get_me())
            except ScopeNotGranted as err:
                # Refused by our client before asking Microsoft (graph.mail): say what is missing.
                return ValidationResult(
                    ok=False, reason=f"the mailbox was connected without {err.scope}: connect it again"
                )
            except Forbidden:
                return ValidationResult(ok=False, reason="Microsoft refused access to this mailbox")
            except NotFound:
                return ValidationResult(ok=False, reason="this account has no Outlook mailbox")
        return ValidationResult(ok=True)

    async def _scopes(self, connection_id: str) -> list[str]:
        with retry_semantics("read tokens"):
            return (await self._tokens.load(connection_id)).scopes

    # ----- subscription ---------------------------------------------------------------------------

    @activity.defn(name="create_subscription")
    async def create_subscription(self, request: SubscriptionRequest) -> SubscriptionInfo:
        """A new subscription to the resource the connection's recipes call for now (the inbox, or the
        whole mailbox when one watches another folder: activities/subscription_resource.py)."""
        connection_id = request.connection_id
        if request.replaces_subscription_id:
            await self._delete_quietly(connection_id, request.replaces_subscription_id)
        return await self._create(connection_id, request.lifetime, await self._wanted_resource(connection_id))

    @activity.defn(name="follow_recipe_folders")
    async def follow_recipe_folders(self, ref: SubscriptionRef) -> SubscriptionInfo:
        """Makes the live subscription watch what the recipes call for now: when its resource differs,
        a new subscription is created first (nothing arriving meanwhile goes unnoticed; Graph's 409 is
        for the same resource only), then the old one deleted. The same id back: nothing changed."""
        wanted = await self._wanted_resource(ref.connection_id)
        with retry_semantics("read subscription"):
            try:
                live = await self._with_mailbox(
                    ref.connection_id, lambda m: m.get_subscription(ref.subscription_id)
                )
            except NotFound:
                # Graph lost it (or it expired): a new one, which the workflow follows with a catch-up.
                return await self._create(ref.connection_id, ref.lifetime, wanted)
        if live.resource is None or same_resource(live.resource, wanted):
            expires_at = live.expiration_date_time or datetime.now(UTC)
            return SubscriptionInfo(subscription_id=live.id, expires_at=expires_at)
        return await self._switch(ref, wanted)

    async def _switch(self, ref: SubscriptionRef, resource: str) -> SubscriptionInfo:
        info = await self._create(ref.connection_id, ref.lifetime, resource)
        await self._delete_quietly(ref.connection_id, ref.subscription_id)
        activity.logger.info("subscription now watches %s", resource)
        return info

    async def _wanted_resource(self, connection_id: str) -> str:
        return await asyncio.to_thread(self._read_wanted_resource, connection_id)

    def _read_wanted_resource(self, connection_id: str) -> str:
        with session_scope(self._engine) as session:
            recipes = recipes_for_connection(session, connection_id)
        return subscription_resource(
            r.trigger.folder for r in recipes if isinstance(r.trigger, EmailReceivedTrigger)
        )

    async def _create(self, connection_id: str, lifetime: timedelta, resource: str) -> SubscriptionInfo:
        # Stored before the subscription exists: Graph may notify the moment it is created.
        client_state = SecretStr(secrets.token_urlsafe(48))
        expiration = datetime.now(UTC) + lifetime
        with retry_semantics("create subscription"):
            await self._tokens.save_client_state(connection_id, client_state)
            try:
                subscription = await self._subscribe(connection_id, client_state, expiration, resource)
            except Conflict:
                await self._clear_stale_conflicts(connection_id, resource)
                try:
                    subscription = await self._subscribe(connection_id, client_state, expiration, resource)
                except Conflict:
                    raise ApplicationError(
                        "create subscription: Graph still reports a conflicting subscription", type="Conflict"
                    ) from None
        expires_at = subscription.expiration_date_time or expiration
        await self._record(connection_id, subscription_id=subscription.id, subscription_expires_at=expires_at)
        return SubscriptionInfo(subscription_id=subscription.id, expires_at=expires_at)

    async def _subscribe(
        self, connection_id: str, client_state: SecretStr, expiration: datetime, resource: str
    ) -> Subscription:
        return await self._with_mailbox(
            connection_id,
            lambda m: m.create_subscription(
                resource=resource,
                change_type=CHANGE_TYPE,
                notification_url=self._notification_url,
                lifecycle_url=self._lifecycle_url,
                client_state=client_state,
                expiration=expiration,
            ),
        )

    async def _clear_stale_conflicts(self, connection_id: str, resource: str) -> None:
        """Deletes the subscription a 409 points at when nothing else needs it (see
        activities/subscription_conflict.py); raises a non-retryable error when something does."""
        existing = await self._with_mailbox(connection_id, lambda m: m.list_subscriptions())
        stale = await stale_conflicts(
            existing,
            change_type=CHANGE_TYPE,
            notification_url=self._notification_url,
            connection_id=connection_id,
            engine=self._engine,
            resource=resource,
        )
        for subscription_id in stale:
            await self._delete_quietly(connection_id, subscription_id)

    @activity.defn(name="renew_subscription")
    async def renew_subscription(self, ref: SubscriptionRef) -> SubscriptionInfo:
        """Extends the subscription; one that watches other than what the recipes call for now (a
        `recipes_changed` signal was lost) is replaced, as follow_recipe_folders does."""
        try:
            info = await self._renew(ref)
        except ApplicationError as err:
            SUBSCRIPTION_RENEWALS.labels(result="gone" if err.type == SUBSCRIPTION_GONE else "failed").inc()
            raise
        except Exception:
            SUBSCRIPTION_RENEWALS.labels(result="failed").inc()
            raise
        SUBSCRIPTION_RENEWALS.labels(result="ok").inc()
        return info

    async def _renew(self, ref: SubscriptionRef) -> SubscriptionInfo:
        expiration = datetime.now(UTC) + ref.lifetime
        with retry_semantics("renew subscription"):
            try:
                subscription = await self._with_mailbox(
                    ref.connection_id, lambda m: m.renew_subscription(ref.subscription_id, expiration)
                )
            except NotFound:
                raise ApplicationError(
                    "renew subscription: Graph no longer has it", type=SUBSCRIPTION_GONE, non_retryable=True
                ) from None
        wanted = await self._wanted_resource(ref.connection_id)
        if subscription.resource is not None and not same_resource(subscription.resource, wanted):
            return await self._switch(ref, wanted)
        expires_at = subscription.expiration_date_time or expiration
        await self._record(
            ref.connection_id, subscription_id=ref.subscription_id, subscription_expires_at=expires_at
        )
        return SubscriptionInfo(subscription_id=ref.subscription_id, expires_at=expires_at)

    @activity.defn(name="delete_subscription")
    async def delete_subscription(self, ref: SubscriptionRef) -> None:
        await self._delete_quietly(ref.connection_id, ref.subscription_id)
        await self._record(ref.connection_id, subscription_id=None, subscription_expires_at=None)

    async def _delete_quietly(self, connection_id: str, subscription_id: str) -> None:
        with retry_semantics("delete subscription"):
            try:
                await self._with_mailbox(connection_id, lambda m: m.delete_subscription(subscription_id))
            except NotFound:
                return  # already gone: that is what we wanted
            except ReconnectRequired:
                # The grant is dead, so Graph will not let us; the subscription expires by itself.
                return

    # ----- lifecycle of the connection's data -----------------------------------------------------

    @activity.defn(name="destroy_connection_secrets")
    async def destroy_connection_secrets(self, ref: ConnectionRef) -> None:
        self._access.forget(ref.connection_id)
        with retry_semantics("destroy secrets"):
            await self._tokens.destroy(ref.connection_id)

    @activity.defn(name="record_connection_status")
    async def record_connection_status(self, record: StatusRecord) -> None:
        await self._record(
            record.connection_id,
            status=record.status.value,
            status_reason=record.status_reason,
            subscription_expires_at=record.subscription_expires_at,
        )

    async def _record(self, connection_id: str, **values: object) -> None:
        """Updates the connection's row (one transaction, committed before this returns)."""
        await asyncio.to_thread(self._update_row, connection_id, values)

    def _update_row(self, connection_id: str, values: dict[str, object]) -> None:
        newly_revoked = False
        with session_scope(self._engine) as session:
            if values.get("status") == ConnectionStatus.REVOKED.value:
                row = session.get(Connection, uuid.UUID(connection_id))
                newly_revoked = row is not None and row.status != ConnectionStatus.REVOKED.value
            if "status" in values:
                # A newly revoked or disconnected connection is audited in the same transaction.
                reason = str(values.get("status_reason", ""))
                status_changed(session, uuid.UUID(connection_id), str(values["status"]), reason)
            session.execute(
                update(Connection)
                .where(Connection.id == uuid.UUID(connection_id))
                .values(updated_at=datetime.now(UTC), **values)
            )
        if newly_revoked:  # committed: an activity's retry of the same record counts no second time
            REVOCATIONS.inc()

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.describe_tokens,
            self.refresh_tokens,
            self.validate_mailbox,
            self.create_subscription,
            self.renew_subscription,
            self.follow_recipe_folders,
            self.delete_subscription,
            self.destroy_connection_secrets,
            self.record_connection_status,
        ]
