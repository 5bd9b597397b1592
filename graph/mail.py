"""Microsoft Graph mail calls for one mailbox, through the shared limiter and httpx client.

    graph = GraphMail(http, settings.ms_graph_base_url, limiter)
    mailbox = graph.mailbox(connection_id, access_token)
    folder_id = await mailbox.message_folder_id(message_id)

The access token is given per mailbox handle (the caller loads it from Vault and refreshes it on
Unauthorized, see `with_token_refresh`). Only the fields asked for are requested: `$select` is sent
exactly as given.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from graph.attachments import Attachment
from graph.errors import GraphError, GraphUnavailable, ScopeNotGranted, Throttled, error_from_response
from graph.limits import MailboxLimiter
from graph.request_ids import new_client_request_id
from graph.scopes import MAIL_READ, MAIL_SEND, USER_READ, has_scope
from graph.wire import (
    INTERNET_MESSAGE_ID,
    DeltaPage,
    MailFolder,
    Message,
    OutgoingMessage,
    Subscription,
    User,
    check_custom_headers,
    graph_headers,
)
from telemetry.metrics import GRAPH_REQUESTS

# Folders a connection must resolve once: the inbox it reads, and the ones it must never read from.
WELL_KNOWN_FOLDERS = ("inbox", "junkemail", "deleteditems", "sentitems", "drafts", "outbox")
IMMUTABLE_IDS = 'IdType="ImmutableId"'
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_ID = re.compile(r"^[A-Za-z0-9_\-=+/.!~]+$")


def _select(fields: Iterable[str]) -> str:
    names = list(fields)
    if not names or not all(_FIELD.fullmatch(n) for n in names):
        raise ValueError("$select needs one or more plain field names")
    return ",".join(names)


def _path_id(value: str) -> str:
    # Graph ids are base64-ish; refusing anything else keeps a hostile id from rewriting the path.
    if not _ID.fullmatch(value):
        raise ValueError("not a Graph id")
    return value.replace("/", "%2F")


def _graph_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive means UTC here (as stored), never the local zone
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class GraphMail:
    """Process-wide: the shared httpx client, Graph's base URL and the per-mailbox limiter."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        limiter: MailboxLimiter | None = None,
        *,
        throttle_retries: int = 2,
        max_throttle_wait: float = 30.0,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or MailboxLimiter()
        # A short Retry-After is cheaper to wait out here than to fail the activity; a long one is not.
        self.throttle_retries = throttle_retries
        self.max_throttle_wait = max_throttle_wait

    def mailbox(
        self, key: str, access_token: SecretStr, granted: Iterable[str] | None = None
    ) -> MailboxClient:
        """`key` identifies the mailbox for the limiter (the connection id, or the address). `granted`:
        the scopes the connection was granted; a call needing another is refused before any request
        (ScopeNotGranted). None only where nothing is known yet (right after a consent, to read the
        profile); every call on behalf of a stored connection passes its scopes."""
        return MailboxClient(self, key, access_token, granted)


class MailboxClient:
    def __init__(
        self, graph: GraphMail, key: str, access_token: SecretStr, granted: Iterable[str] | None = None
    ) -> None:
        self._graph = graph
        self._key = key
        self._token = access_token
        self._granted = None if granted is None else list(granted)

    def _require(self, scope: str, operation: str) -> None:
        """Before anything is sent: the token must carry `scope`, or Graph would only answer 403."""
        if self._granted is not None and not has_scope(self._granted, scope):
            raise ScopeNotGranted(operation, scope)

    # --- user and folders ---

    async def get_me(self) -> User:
        self._require(USER_READ, "get me")
        data = await self._json(
            "GET", "/me", "get me", params={"$select": "id,displayName,mail,userPrincipalName"}
        )
        return User.model_validate(data)

    async def get_folder(self, name_or_id: str) -> MailFolder:
        self._require(MAIL_READ, "get folder")
        data = await self._json("GET", f"/me/mailFolders/{_path_id(name_or_id)}", "get folder")
        return MailFolder.model_validate(data)

    async def resolve_well_known_folders(self, names: Sequence[str] = WELL_KNOWN_FOLDERS) -> dict[str, str]:
        """Well-known name -> opaque folder id (compare parentFolderId against ids, never names)."""
        self._require(MAIL_READ, "resolve folder")

        async def resolve(name: str) -> str:
            data = await self._json(
                "GET", f"/me/mailFolders/{_path_id(name)}", "resolve folder", params={"$select": "id"}
            )
            return MailFolder.model_validate(data).id

        ids = await asyncio.gather(*(resolve(name) for name in names))
        return dict(zip(names, ids, strict=True))

    async def list_folders(self) -> list[MailFolder]:
        """The mailbox's top-level mail folders (id and displayName only), every page."""
        self._require(MAIL_READ, "list folders")
        url: str | None = "/me/mailFolders"
        params: dict[str, str] | None = {"$select": "id,displayName"}
        folders: list[MailFolder] = []
        while url is not None:
            data = await self._json("GET", url, "list folders", params=params)
            folders += [MailFolder.model_validate(f) for f in data.get("value") or []]
            link = data.get("@odata.nextLink")
            url, params = (self._own_link(link), None) if link else (None, None)
        return folders

    async def recent_messages(
        self, folder: str, top: int, select: Sequence[str], *, body_text: bool = False
    ) -> list[Message]:
        """The folder's newest `top` messages (one page), with only the `select`ed fields."""
        self._require(MAIL_READ, "recent messages")
        params = {"$top": str(int(top)), "$orderby": "receivedDateTime desc", "$select": _select(select)}
        prefer = ['outlook.body-content-type="text"'] if body_text else []
        data = await self._json(
            "GET",
            f"/me/mailFolders/{_path_id(folder)}/messages",
            "recent messages",
            params=params,
            prefer=prefer,
        )
        return [Message.model_validate(m) for m in data.get("value") or []][:top]

    # --- messages ---

    async def latest_inbox_message_id(self) -> str | None:
        """The validity check: proves the token can read the inbox without reading any mail content."""
        self._require(MAIL_READ, "latest inbox message")
        data = await self._json(
            "GET",
            "/me/mailFolders/inbox/messages",
            "latest inbox message",
            params={"$top": "1", "$orderby": "receivedDateTime desc", "$select": "id"},
        )
        items = data.get("value") or []
        return str(items[0]["id"]) if items else None

    async def get_message(
        self, message_id: str, select: Sequence[str], *, body_text: bool = False
    ) -> Message:
        self._require(MAIL_READ, "get message")
        prefer = ['outlook.body-content-type="text"'] if body_text else []
        data = await self._json(
            "GET",
            f"/me/messages/{_path_id(message_id)}",
            "get message",
            params={"$select": _select(select)},
            prefer=prefer,
        )
        return Message.model_validate(data)

    async def message_folder_id(self, message_id: str) -> str:
        message = await self.get_message(message_id, ["parentFolderId"])
        if not message.parent_folder_id:
            raise GraphError("message folder", 200, "parentFolderIdMissing")
        return message.parent_folder_id

    async def attachments(self, message_id: str) -> list[Attachment]:
        """The message's attachments with their bytes (contentBytes, base64) as Graph lists them."""
        self._require(MAIL_READ, "attachments")
        data = await self._json("GET", f"/me/messages/{_path_id(message_id)}/attachments", "attachments")
        return [Attachment.model_validate(a) for a in data.get("value") or []]

    async def delta(
        self,
        folder_id: str,
        delta_link: str | None,
        select: Sequence[str],
        max_page_size: int | None = None,
        received_since: datetime | None = None,
    ) -> AsyncIterator[DeltaPage]:
        """Pages of one delta round; the last page carries the delta link to store after processing.

        `delta_link` may also be a next link saved mid-round (to resume there). `received_since`
        limits a first round to messages received from then on (Graph then caps it at 5,000)."""
        self._require(MAIL_READ, "delta")
        prefer = [f"odata.maxpagesize={int(max_page_size)}"] if max_page_size else []
        url: str | None
        params: dict[str, str] | None
        if delta_link:
            url, params = self._own_link(delta_link), None  # reused verbatim, $select included
        else:
            url = f"/me/mailFolders/{_path_id(folder_id)}/messages/delta"
            params = {"$select": _select(select)}
            if received_since is not None:
                params["$filter"] = f"receivedDateTime ge {_graph_time(received_since)}"
        while url is not None:
            data = await self._json("GET", url, "delta", params=params, prefer=prefer)
            page = DeltaPage(
                messages=[Message.model_validate(m) for m in data.get("value") or []],
                next_link=data.get("@odata.nextLink"),
                delta_link=data.get("@odata.deltaLink"),
            )
            yield page
            url, params = (self._own_link(page.next_link), None) if page.next_link else (None, None)

    # --- subscriptions ---

    async def create_subscription(
        self,
        *,
        resource: str,
        change_type: str,
        notification_url: str,
        lifecycle_url: str,
        client_state: SecretStr,
        expiration: datetime,
    ) -> Subscription:
        # A subscription to messages needs the permission to read them.
        self._require(MAIL_READ, "create subscription")
        body = {
            "changeType": change_type,
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": resource,
            "expirationDateTime": _graph_time(expiration),
            "clientState": client_state.get_secret_value(),
        }
        data = await self._json("POST", "/subscriptions", "create subscription", json=body)
        return Subscription.model_validate(data)

    async def renew_subscription(self, subscription_id: str, expiration: datetime) -> Subscription:
        self._require(MAIL_READ, "renew subscription")
        data = await self._json(
            "PATCH",
            f"/subscriptions/{_path_id(subscription_id)}",
            "renew subscription",
            json={"expirationDateTime": _graph_time(expiration)},
        )
        return Subscription.model_validate(data)

    async def get_subscription(self, subscription_id: str) -> Subscription:
        """One of this app's subscriptions as Graph has it now (its resource, its expiry)."""
        self._require(MAIL_READ, "read subscription")
        data = await self._json("GET", f"/subscriptions/{_path_id(subscription_id)}", "read subscription")
        return Subscription.model_validate(data)

    async def list_subscriptions(self) -> list[Subscription]:
        """This app's subscriptions for this mailbox (Graph lists only the caller's own)."""
        self._require(MAIL_READ, "list subscriptions")
        data = await self._json("GET", "/subscriptions", "list subscriptions")
        return [Subscription.model_validate(item) for item in data.get("value", [])]

    async def reauthorize_subscription(self, subscription_id: str) -> None:
        self._require(MAIL_READ, "reauthorize")
        await self._send("POST", f"/subscriptions/{_path_id(subscription_id)}/reauthorize", "reauthorize")

    async def delete_subscription(self, subscription_id: str) -> None:
        # Not checked here: removing what the service made is always attempted (on disconnect, after a
        # grant changed); Graph judges it.
        await self._send("DELETE", f"/subscriptions/{_path_id(subscription_id)}", "delete subscription")

    # --- sending ---

    async def send_mail(self, message: OutgoingMessage, *, save_to_sent_items: bool = True) -> None:
        self._require(MAIL_SEND, "send mail")
        body = {"message": message.to_graph(), "saveToSentItems": save_to_sent_items}
        await self._send("POST", "/me/sendMail", "send mail", json=body)

    async def sent_message_exists(self, internet_message_id: str) -> bool:
        """Whether Sent Items holds a message with this internetMessageId (needs Mail.Read). Exchange
        saves the Sent Items copy asynchronously, so a miss right after a send proves nothing."""
        self._require(MAIL_READ, "find sent message")
        if not re.fullmatch(INTERNET_MESSAGE_ID, internet_message_id):
            raise ValueError("not an RFC 2822 internetMessageId")
        quoted = internet_message_id.replace("'", "''")  # an OData string literal
        data = await self._json(
            "GET",
            "/me/mailFolders/sentitems/messages",
            "find sent message",
            params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id", "$top": "1"},
        )
        return bool(data.get("value"))

    async def reply(self, message_id: str, comment: str, headers: Mapping[str, str] | None = None) -> None:
        self._require(MAIL_SEND, "reply")
        body: dict[str, Any] = {"comment": comment}
        if headers:
            # A body would conflict with `comment` (400); headers alone are allowed.
            checked = check_custom_headers(dict(headers))
            body["message"] = {"internetMessageHeaders": graph_headers(checked)}
        await self._send("POST", f"/me/messages/{_path_id(message_id)}/reply", "reply", json=body)

    # --- plumbing ---

    def _own_link(self, link: str) -> str:
        # Links from Graph are followed only on Graph's own base URL: the token must not go elsewhere.
        if not link.startswith(self._graph.base_url + "/"):
            raise GraphError("follow link", 0, "unexpectedLinkHost")
        return link

    async def _json(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        prefer: Sequence[str] = (),
    ) -> dict[str, Any]:
        response = await self._request(method, url, operation, params=params, json=json, prefer=prefer)
        try:
            data = response.json()
        except ValueError:
            raise GraphUnavailable(operation, response.status_code, "invalidJson") from None
        if not isinstance(data, dict):
            raise GraphUnavailable(operation, response.status_code, "invalidJson")
        return data

    async def _send(self, method: str, url: str, operation: str, *, json: Any = None) -> None:
        await self._request(method, url, operation, json=json)

    async def _request(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        prefer: Sequence[str] = (),
    ) -> httpx.Response:
        graph = self._graph
        full_url = url if url.startswith("https://") or url.startswith("http://") else graph.base_url + url
        request_headers = {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            # Immutable ids everywhere (also on the subscription, so notifications carry them): a message
            # keeps its id when it moves folder, so ids from notifications, delta and GETs all agree.
            "Prefer": ", ".join([IMMUTABLE_IDS, *prefer]),
        }
        attempt = 0
        while True:
            async with graph.limiter.slot(self._key):
                # Stamped once the gate has let the call go: each attempt is a request of its own.
                request_headers["client-request-id"] = request_id = new_client_request_id()
                try:
                    response = await graph.http.request(
                        method, full_url, params=params, json=json, headers=request_headers
                    )
                except httpx.TimeoutException:
                    GRAPH_REQUESTS.labels(status="error").inc()
                    raise GraphUnavailable(operation, 0, "timeout") from None
                except httpx.HTTPError as exc:
                    GRAPH_REQUESTS.labels(status="error").inc()
                    raise GraphUnavailable(operation, 0, type(exc).__name__) from None
                GRAPH_REQUESTS.labels(status=str(response.status_code)).inc()
                if response.status_code < 400:
                    return response
                error = error_from_response(operation, response)
                if isinstance(error, Throttled) and error.retry_after is not None:
                    # Gate the mailbox before releasing the slot, so no queued call slips through.
                    graph.limiter.defer(self._key, error.retry_after, request_id)
            if (
                isinstance(error, Throttled)
                and error.retry_after is not None
                and attempt < graph.throttle_retries
                and error.retry_after <= graph.max_throttle_wait
            ):
                attempt += 1
                continue  # the limiter holds the next attempt until Retry-After has passed
            raise error
