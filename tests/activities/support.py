"""What the activity tests share: the activity classes built as worker.py builds them, a mailbox connected
by the real consent flow, boards and recipes in the application database, and the emulator's control
API (mail, faults, revocation, the request log)."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, select

from activities.catch_up import CatchUpActivities
from activities.connection import ConnectionActivities
from activities.destinations import Destinations
from activities.folders import AllowedFolders
from activities.mailbox_access import MailboxAccess
from activities.message_steps import MessageSteps
from activities.message_writes import MessageWrites
from activities.recipe_cache import RecipeCache
from audit.record import TokenReads
from boards.builtin import BuiltinBoards
from boards.schemas import BoardCreate, ColumnCreate
from boards.service import create_board
from boards.store import BoardStore
from config.settings import Settings
from connections.consent import graph_scopes, tokens_to_store
from db.accounts import User
from db.connections import Connection
from db.engine import session_scope
from graph.errors import parse_retry_after
from graph.http_client import build_http_client
from graph.identity import Identity, TokenSet
from graph.mail import GraphMail
from payloads.connection import ConnectionStatus
from recipes.model import RecipeSpec
from recipes.store import add_recipe
from tests.graph.support import control, pre_consent, run_consent
from tests.support.appdb import add_user
from tests.support.emulator_server import RunningEmulator
from vault.client import VaultClient
from vault.token_store import TokenStore

# The app registration these tests use (not the e2e stack's: registering replaces an app's redirect URIs).
CLIENT_ID = "aaaaaaaa-0000-4000-8000-acc71v171e55"
CLIENT_SECRET = "activity-tests-secret-" + uuid.uuid4().hex
# Access tokens of the short-token emulator live this long (seconds).
SHORT_TOKEN_SECONDS = 3

# The sender and subject the support recipe matches (as in README's example).
CUSTOMER = "grace@customer.example"


def own_app_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"ms_client_id": CLIENT_ID, "ms_client_secret": SecretStr(CLIENT_SECRET)}
    )


def register_app(emulator: RunningEmulator, settings: Settings) -> None:
    with emulator.client() as c:
        r = c.post(
            "/_emulator/apps",
            json={
                "client_id": settings.ms_client_id,
                "client_secret": settings.ms_client_secret.get_secret_value(),
                "redirect_uris": [settings.oauth_redirect_uri],
                "display_name": "outlook-integration (activity tests)",
            },
        )
        assert r.status_code in (200, 201), r.text


@dataclass
class Answer:
    method: str
    path: str
    status: int
    retry_after: str | None
    prefer: str | None  # the request's Prefer header


@dataclass
class GraphAnswers:
    """What Graph answered the activities (an httpx response hook on the worker's Graph client)."""

    answers: list[Answer] = field(default_factory=list)

    async def on_response(self, response: httpx.Response) -> None:
        self.answers.append(
            Answer(
                response.request.method,
                response.request.url.path,
                response.status_code,
                response.headers.get("Retry-After"),
                response.request.headers.get("Prefer"),
            )
        )

    def last_retry_after(self) -> float | None:
        """The Retry-After of the last 429/503, in seconds as the product's parser reads it."""
        throttled = [a for a in self.answers if a.status in (429, 503)]
        assert throttled, f"Graph never throttled: {self.answers}"
        return parse_retry_after(throttled[-1].retry_after)


@dataclass
class Mailbox:
    email: str
    connection_id: str
    owner_id: uuid.UUID
    account_id: uuid.UUID


@dataclass
class World:
    settings: Settings
    engine: Engine
    emulator: RunningEmulator
    access: MailboxAccess
    tokens: TokenStore
    steps: MessageSteps
    writes: MessageWrites
    catch_up: CatchUpActivities
    connection: ConnectionActivities
    boards: BoardStore
    graph_answers: GraphAnswers

    # ----- mailboxes ------------------------------------------------------------------------------

    async def connect(
        self,
        *,
        choices: tuple[str, ...] = ("incoming",),
        granted: list[str] | None = None,
        email: str | None = None,
    ) -> Mailbox:
        """A mailbox connected by the real code flow (PKCE, MSAL): tokens in OpenBao and the connection's
        row, as the API's callback leaves them, but no workflow. A new emulator mailbox unless `email`
        (then another user's connection of that mailbox). `granted`: what the user ticks on the consent
        page (default: everything asked)."""
        if email is None:
            email = f"ada-{uuid.uuid4().hex[:10]}@contoso.test"
            async with self.control() as c:
                r = await c.post("/users", json={"email": email, "display_name": "Ada Lovelace"})
                assert r.status_code == 201, r.text
        asked = graph_scopes(list(choices))
        identity = Identity.from_settings(self.settings)
        try:
            tokens = await self._consent(identity, email, asked, granted)
        finally:
            identity.close()
        assert (tokens.username or "").lower() == email

        owner_id, _api_token = add_user(
            self.engine, account_name=uuid.uuid4().hex[:8], email=f"owner-{uuid.uuid4().hex[:6]}@acme.example"
        )
        with session_scope(self.engine) as session:
            owner = session.scalars(select(User).where(User.id == owner_id)).one()
            row = Connection(
                account_id=owner.account_id,
                owner_id=owner.id,
                mailbox=email,
                display_name=tokens.display_name or "",
                scopes=" ".join(tokens.scopes),
                status=ConnectionStatus.ACTIVE.value,
            )
            session.add(row)
            session.flush()
            connection_id, account_id = str(row.id), owner.account_id
        saved = await self.tokens.save(connection_id, tokens_to_store(tokens, email))
        assert saved
        return Mailbox(email, connection_id, owner_id, account_id)

    async def _consent(
        self, identity: Identity, email: str, asked: list[str], granted: list[str] | None
    ) -> TokenSet:
        """The user's consent in the emulator, as the browser would give it, and the code redeemed."""
        redirect_uri = self.settings.oauth_redirect_uri
        with warnings.catch_warnings():
            # MSAL recommends form_post; the API uses the query (connections/consent.py), and so do we.
            warnings.filterwarnings("ignore", "response_mode", UserWarning)
            flow = await identity.initiate_auth_code_flow(asked, redirect_uri, login_hint=email)
        await pre_consent(self.emulator, email, granted if granted is not None else asked)
        params = await run_consent(self.emulator, str(flow["auth_uri"]), redirect_uri)
        return await identity.redeem(flow, params)

    # ----- the emulator's control API -------------------------------------------------------------

    def control(self) -> httpx.AsyncClient:
        return control(self.emulator)

    async def deliver(self, mailbox: Mailbox, **fields: Any) -> str:
        """Delivers a message (Graph's shape, defaults: to the inbox from the customer); its id."""
        body: dict[str, Any] = {
            "folder": "inbox",
            "from": {"name": "Grace Hopper", "address": CUSTOMER},
            "to": [mailbox.email],
            "subject": "Need help with my order",
            "body": "<p>Hello, my order <b>42</b> never arrived.</p>",
            "body_type": "html",
        }
        body.update(fields)
        async with self.control() as c:
            r = await c.post(f"/users/{mailbox.email}/messages", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def add_folder(self, mailbox: Mailbox, display_name: str) -> str:
        """A custom mail folder (under the root, as a user makes one); its Graph id."""
        async with self.control() as c:
            r = await c.post(f"/users/{mailbox.email}/folders", json={"display_name": display_name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def move_message(self, mailbox: Mailbox, message_id: str, folder: str) -> None:
        """Moves it as a user or an inbox rule would (its REST id changes, its immutable id does not)."""
        async with self.control() as c:
            r = await c.post(f"/users/{mailbox.email}/messages/{message_id}/move", json={"folder": folder})
        assert r.status_code in (200, 201), r.text

    async def delete_message(self, mailbox: Mailbox, message_id: str) -> None:
        async with self.control() as c:
            r = await c.delete(f"/users/{mailbox.email}/messages/{message_id}")
        assert r.status_code == 204, r.text

    async def graph_requests(self, mailbox: Mailbox) -> list[dict[str, Any]]:
        """The emulator's log of Graph calls made for this mailbox."""
        async with self.control() as c:
            r = await c.get("/requests", params={"mailbox": mailbox.email})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    async def message_requests(self, mailbox: Mailbox, message_id: str) -> list[dict[str, Any]]:
        return [e for e in await self.graph_requests(mailbox) if e["message_id"] == message_id]

    async def set_faults(self, **faults: Any) -> None:
        async with self.control() as c:
            r = await c.put("/faults", json=faults)
        assert r.status_code == 200, r.text

    async def clear_faults(self) -> None:
        async with self.control() as c:
            r = await c.delete("/faults")
        assert r.status_code == 200, r.text

    async def revoke(self, mailbox: Mailbox, reason: str) -> None:
        async with self.control() as c:
            r = await c.post(f"/users/{mailbox.email}/revoke", json={"reason": reason})
        assert r.status_code == 200, r.text

    # ----- boards and recipes ---------------------------------------------------------------------

    def add_board(self, mailbox: Mailbox, groups: tuple[str, ...] = ("New",)) -> str:
        body = BoardCreate(
            name="Support",
            groups=list(groups),
            columns=[
                ColumnCreate(title="From", type="email"),
                ColumnCreate(title="Received", type="date"),
                ColumnCreate(title="Preview", type="long_text"),
            ],
        )
        with session_scope(self.engine) as session:
            return str(create_board(session, mailbox.account_id, body).id)

    def add_recipe(
        self,
        mailbox: Mailbox,
        board_id: str,
        *,
        name: str = "Support mail",
        conditions: dict[str, Any] | None = None,
        columns: dict[str, str] | None = None,
        item_name: str = "{subject}",
        group: str = "New",
        enabled: bool = True,
        replies: str = "item",
        action: dict[str, Any] | None = None,
        folder: str = "inbox",
    ) -> str:
        """A recipe as the API stores it; by default README's: customer mail asking for help (each email
        its own item: `replies="update"` threads replies into updates; `action` replaces the action)."""
        spec = RecipeSpec.model_validate(
            {
                "trigger": {
                    "type": "email_received",
                    "folder": folder,
                    "conditions": (
                        conditions
                        if conditions is not None
                        else {"from": ["*@customer.example"], "subject_contains": ["help"]}
                    ),
                },
                "action": {
                    "type": "create_item",
                    "board_id": board_id,
                    "group": group,
                    "item_name": item_name,
                    "columns": columns if columns is not None else {"From": "{from.address}"},
                    "replies": replies,
                }
                if action is None
                else action,
            }
        )
        with session_scope(self.engine) as session:
            row = add_recipe(
                session,
                connection_id=uuid.UUID(mailbox.connection_id),
                owner_id=mailbox.owner_id,
                name=name,
                enabled=enabled,
                spec=spec,
            )
            return str(row.id)


@asynccontextmanager
async def build_world(settings: Settings, engine: Engine, emulator: RunningEmulator) -> AsyncIterator[World]:
    """The activity classes wired as worker.activities() wires them, with a Graph client whose answers
    are recorded (the only addition: an httpx response hook)."""
    answers = GraphAnswers()
    http = build_http_client(settings.ms_ca_bundle)
    http.event_hooks = {"request": [], "response": [answers.on_response]}
    vault = VaultClient.from_settings(settings)
    tokens = TokenStore(vault, on_read=TokenReads(engine))
    identity = Identity.from_settings(settings)
    access = MailboxAccess(tokens, identity, GraphMail(http, settings.ms_graph_base_url))
    boards = BoardStore(engine)
    folders = AllowedFolders(access, engine)
    recipes = RecipeCache(engine)
    steps = MessageSteps(access, engine, recipes, folders)
    writes = MessageWrites(access, recipes, Destinations(BuiltinBoards(boards)))
    world = World(
        settings=settings,
        engine=engine,
        emulator=emulator,
        access=access,
        tokens=tokens,
        steps=steps,
        writes=writes,
        catch_up=CatchUpActivities(access, engine, folders),
        connection=ConnectionActivities(access, engine, settings.public_base),
        boards=boards,
        graph_answers=answers,
    )
    await world.clear_faults()
    try:
        yield world
    finally:
        await world.clear_faults()
        await http.aclose()
        identity.close()
        vault.close()
