"""Who may create integrations in an account: everyone (the default), admins only, or admins and the
users an admin listed. "Creating an integration" is connecting a mailbox, reconnecting one and saving a
recipe; what already runs keeps running when the setting narrows.

Blocking: every function reads or writes the database through the given Session.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.accounts import Role, User
from db.permissions import AccountPermissions, CreateIntegrations, IntegrationCreator

MAX_LISTED_USERS = 1000


class ListedUsers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # User ids of the account; admins may always create integrations and need not be listed.
    users: list[uuid.UUID] = Field(max_length=MAX_LISTED_USERS)


class PermissionsBody(BaseModel):
    """GET and PUT /api/account/permissions."""

    model_config = ConfigDict(extra="forbid")

    create_integrations: Literal["everyone", "admins"] | ListedUsers


class UnknownUsers(ValueError):
    """Some listed ids are not users of the account (unknown, or of another account)."""

    def __init__(self, ids: list[uuid.UUID]) -> None:
        super().__init__(", ".join(str(i) for i in ids))
        self.ids = ids


def read(session: Session, account_id: uuid.UUID) -> PermissionsBody:
    row = session.get(AccountPermissions, account_id)
    if row is None or row.create_integrations == CreateIntegrations.everyone.value:
        return PermissionsBody(create_integrations="everyone")
    if row.create_integrations == CreateIntegrations.admins.value:
        return PermissionsBody(create_integrations="admins")
    return PermissionsBody(create_integrations=ListedUsers(users=_listed(session, account_id)))


def _listed(session: Session, account_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(IntegrationCreator.user_id)
            .where(IntegrationCreator.account_id == account_id)
            .order_by(IntegrationCreator.user_id)
        )
    )


def write(session: Session, account_id: uuid.UUID, body: PermissionsBody) -> PermissionsBody:
    """Replaces the setting (flushed, not committed); UnknownUsers before writing anything."""
    setting = body.create_integrations
    users: list[uuid.UUID] = []
    if isinstance(setting, ListedUsers):
        users = list(dict.fromkeys(setting.users))
        known = set(session.scalars(select(User.id).where(User.id.in_(users), User.account_id == account_id)))
        unknown = [u for u in users if u not in known]
        if unknown:
            raise UnknownUsers(unknown)
    mode = CreateIntegrations.users.value if isinstance(setting, ListedUsers) else setting
    row = session.get(AccountPermissions, account_id)
    if row is None:
        row = AccountPermissions(account_id=account_id, create_integrations=mode)
        session.add(row)
    else:
        row.create_integrations = mode
    session.flush()
    session.execute(delete(IntegrationCreator).where(IntegrationCreator.account_id == account_id))
    session.add_all(IntegrationCreator(account_id=account_id, user_id=u) for u in users)
    session.flush()
    return read(session, account_id)


def refusal(session: Session, user: User) -> str | None:
    """Why `user` may not create integrations, for them to read; None when they may."""
    if user.role == Role.admin.value:
        return None
    row = session.get(AccountPermissions, user.account_id)
    if row is None or row.create_integrations == CreateIntegrations.everyone.value:
        return None
    if row.create_integrations == CreateIntegrations.admins.value:
        return "only admins of this account may create integrations; ask an admin"
    listed = session.get(IntegrationCreator, (user.account_id, user.id))
    if listed is not None:
        return None
    return (
        "only admins and the users an admin listed may create integrations in this account; "
        "ask an admin to add you"
    )
