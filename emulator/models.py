"""The emulator's state: plain pydantic models, so a snapshot is one model_dump_json away."""

from __future__ import annotations

from pydantic import BaseModel, Field

from emulator.settings import AppRegistration

WELL_KNOWN_FOLDERS: dict[str, str] = {
    "msgfolderroot": "Top of Information Store",
    "inbox": "Inbox",
    "drafts": "Drafts",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "junkemail": "Junk Email",
    "outbox": "Outbox",
    "archive": "Archive",
    "clutter": "Clutter",
    "conflicts": "Conflicts",
    "conversationhistory": "Conversation History",
    "localfailures": "Local Failures",
    "recoverableitemsdeletions": "Deletions",
    "scheduled": "Scheduled",
    "searchfolders": "Finder",
    "serverfailures": "Server Failures",
    "syncissues": "Sync Issues",
}
# Folders Graph lists under the root (GET /me/mailFolders); the rest are hidden or nested.
VISIBLE_TOP_LEVEL = (
    "inbox",
    "drafts",
    "sentitems",
    "deleteditems",
    "junkemail",
    "outbox",
    "archive",
    "conversationhistory",
)
SYNC_ISSUES_CHILDREN = ("conflicts", "localfailures", "serverfailures")


class Folder(BaseModel):
    id: str
    display_name: str
    parent_id: str | None
    well_known: str | None = None
    hidden: bool = False


class Attachment(BaseModel):
    id: str
    name: str
    content_type: str = "application/octet-stream"
    content_base64: str = ""
    size: int = 0
    is_inline: bool = False


class Message(BaseModel):
    immutable_id: str
    rest_id: str  # the regular id: it changes whenever the message moves to another folder
    folder_id: str
    subject: str = ""
    body: str = ""
    body_type: str = "html"
    from_name: str = ""
    from_address: str = ""
    to: list[tuple[str, str]] = Field(default_factory=list)
    cc: list[tuple[str, str]] = Field(default_factory=list)
    bcc: list[tuple[str, str]] = Field(default_factory=list)
    reply_to: list[tuple[str, str]] = Field(default_factory=list)
    importance: str = "normal"
    conversation_id: str = ""
    # base64 of Outlook's binary conversation index (emulator.conversation); "" in snapshots from before
    # it was kept, filled in when the store loads them
    conversation_index: str = ""
    internet_message_id: str = ""
    headers: list[tuple[str, str]] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    is_read: bool = False
    is_draft: bool = False
    received: float = 0.0
    sent: float = 0.0
    created: float = 0.0
    modified: float = 0.0
    change_key: str = ""
    seq: int = 0  # the mailbox's change counter at the last change (drives delta)
    arrival: int = 0  # order of arrival: breaks ties between messages received in the same second


class Removal(BaseModel):
    folder_id: str
    ids: tuple[str, str]  # (immutable_id, rest_id) as they were when it left the folder
    seq: int


class SentRecord(BaseModel):
    time: float
    kind: str  # sendMail | reply
    message: dict[str, object]
    save_to_sent_items: bool
    sent_item_id: str | None = None


class User(BaseModel):
    id: str
    email: str
    display_name: str
    folders: dict[str, Folder] = Field(default_factory=dict)
    messages: dict[str, Message] = Field(default_factory=dict)  # by immutable id
    removals: list[Removal] = Field(default_factory=list)
    seq: int = 0
    sent: list[SentRecord] = Field(default_factory=list)


class Grant(BaseModel):
    """What a user consented to for one app; revoking the user sets revoked_reason on the user."""

    client_id: str
    user_id: str
    scopes: list[str]
    created: float


class AuthCode(BaseModel):
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    expires: float
    used: bool = False


class AccessToken(BaseModel):
    token: str
    client_id: str
    user_id: str
    scopes: list[str]
    issued: float
    expires: float


class RefreshToken(BaseModel):
    token: str
    client_id: str
    user_id: str
    scopes: list[str]
    issued: float
    last_used: float
    spent: bool = False
    revoked_reason: str | None = None  # consent_revoked | admin_reset | inactive | mfa_required


class Subscription(BaseModel):
    id: str
    client_id: str
    user_id: str
    resource: str
    folder_id: str | None  # None: every folder of the mailbox (me/messages)
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: float
    # Until when the creator's access lasts; reauthorizationRequired goes out before that.
    authorized_until: float
    reauth_sent: bool = False
    immutable_ids: bool = False
    created: float = 0.0
    tls_version: str = "v1_2"


class DeltaState(BaseModel):
    token: str
    user_id: str
    folder_id: str
    seq: int
    created: float
    select: list[str] | None = None
    filter: str | None = None
    page_size: int = 10
    # A page in progress (skiptoken): the ids still to return and the seq the final deltaLink gets.
    pending: list[str] | None = None
    pending_removed: list[str] | None = None
    final_seq: int | None = None
    immutable_ids: bool = False


class Consent(BaseModel):
    email: str  # "" for a deny that applies to whoever signs in
    scopes: list[str] | None = None
    deny: bool = False
    client_id: str | None = None  # only for this app, when given
    created: float = 0.0


class Faults(BaseModel):
    throttle: bool = False
    # That fraction of Graph calls answered 429 with a Retry-After (0.2-1.5 s), decided by a random
    # generator seeded with throttle_seed whenever the faults are replaced (like drop_rate).
    throttle_rate: float = Field(0.0, ge=0.0, le=1.0)
    throttle_seed: int = 0
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(0, ge=0, le=60_000)
    drop_notifications: bool = False
    # That fraction of change notifications dropped (each followed by `missed`), decided by a random
    # generator seeded with drop_seed whenever the faults are replaced, so a test run is reproducible.
    drop_rate: float = Field(0.0, ge=0.0, le=1.0)
    drop_seed: int = 0
    # true (one extra copy) or how many extra copies of each change notification
    duplicate_notifications: bool | int = Field(False, ge=0, le=10)
    notification_delay_ms: int = Field(0, ge=0, le=600_000)
    # sendMail sends (Sent Items copy, delivery) and only then waits this long before its 202.
    send_answer_delay_ms: int = Field(0, ge=0, le=600_000)


class State(BaseModel):
    apps: dict[str, AppRegistration] = Field(default_factory=dict)
    users: dict[str, User] = Field(default_factory=dict)  # by user id
    grants: dict[str, Grant] = Field(default_factory=dict)  # by f"{client_id}|{user_id}"
    auth_codes: dict[str, AuthCode] = Field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = Field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = Field(default_factory=dict)
    subscriptions: dict[str, Subscription] = Field(default_factory=dict)
    delta_states: dict[str, DeltaState] = Field(default_factory=dict)
    issued_access: list[str] = Field(default_factory=list)
    issued_refresh: list[str] = Field(default_factory=list)
    issued_codes: list[str] = Field(default_factory=list)
