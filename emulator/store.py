"""The one in-memory state, its lock, and the mailbox operations every route shares.

All routes run on one event loop and never await while holding the lock, so the lock only guards
against the snapshot writer thread reading a half-changed state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from emulator import conversation, ids
from emulator.models import (
    SYNC_ISSUES_CHILDREN,
    VISIBLE_TOP_LEVEL,
    WELL_KNOWN_FOLDERS,
    Attachment,
    Consent,
    Faults,
    Folder,
    Message,
    Removal,
    State,
    User,
)
from emulator.settings import EmulatorSettings

# (user, folder id, change type, message, moved): a move is "deleted" in the old folder and "created" in
# the new one, which a mailbox-wide subscription sees as one "updated".
ChangeListener = Callable[[User, str, str, Message, bool], None]


class NotFound(Exception):
    pass


class Store:
    def __init__(self, settings: EmulatorSettings, state: State | None = None) -> None:
        self.settings = settings
        self.state = state or State()
        self.lock = threading.RLock()
        self.faults = Faults()
        self.consents: list[Consent] = []
        self.request_log: list[dict[str, Any]] = []
        # Refresh-token grants at the token endpoint (identity.py): outcome, whose grant and a SHA-256
        # of the refresh token presented, never the token itself.
        self.token_log: list[dict[str, Any]] = []
        # Every notification POSTed to the service and how it was answered (notifier.py), bounded.
        self.notification_log: list[dict[str, Any]] = []
        self.listeners: list[ChangeListener] = []
        self.dirty_listeners: list[Callable[[], None]] = []
        self._by_email: dict[str, str] = {}
        self._msg_index: dict[tuple[str, str], str] = {}  # (user id, any id) -> immutable id
        # (user id, conversation id) -> the conversation's 22-byte index header in that mailbox
        self._conversation_headers: dict[tuple[str, str], bytes] = {}
        self._reindex()
        for app in settings.apps:
            self.state.apps[app.client_id] = app
        for seed in settings.users:
            self.add_user(seed.email, seed.display_name)

    # -- bookkeeping -------------------------------------------------------------------------
    def _reindex(self) -> None:
        self._by_email = {u.email.lower(): u.id for u in self.state.users.values()}
        self._msg_index = {}
        self._conversation_headers = {}
        for user in self.state.users.values():
            # In arrival order, so a snapshot from before messages kept an index gets parents' first.
            for msg in sorted(user.messages.values(), key=lambda m: m.arrival):
                self._msg_index[(user.id, msg.immutable_id)] = msg.immutable_id
                self._msg_index[(user.id, msg.rest_id)] = msg.immutable_id
                if conversation.decode(msg.conversation_index) is None:
                    msg.conversation_index = self.conversation_index(
                        user, msg.conversation_id, msg.headers, msg.sent, msg.internet_message_id
                    )
                self._note_conversation(user, msg)

    def changed(self) -> None:
        for cb in self.dirty_listeners:
            cb()

    def _emit(self, user: User, folder_id: str, change_type: str, msg: Message, moved: bool = False) -> None:
        for cb in self.listeners:
            cb(user, folder_id, change_type, msg, moved)

    # -- users and folders ---------------------------------------------------------------------
    def user_by_email(self, email: str) -> User | None:
        uid = self._by_email.get(email.strip().lower())
        return self.state.users.get(uid) if uid else None

    def user_by_ref(self, ref: str) -> User | None:
        return self.state.users.get(ref) or self.user_by_email(ref)

    def require_user(self, email: str) -> User:
        user = self.user_by_email(email)
        if user is None:
            raise NotFound(f"no mailbox {email!r}")
        return user

    def add_user(self, email: str, display_name: str = "") -> tuple[User, bool]:
        with self.lock:
            existing = self.user_by_email(email)
            if existing is not None:
                return existing, False
            user = User(id=ids.guid(), email=email.strip(), display_name=display_name or email.split("@")[0])
            root = Folder(
                id=ids.folder_id(),
                display_name=WELL_KNOWN_FOLDERS["msgfolderroot"],
                parent_id=None,
                well_known="msgfolderroot",
            )
            user.folders[root.id] = root
            sync_issues_id = ""
            for name, display in WELL_KNOWN_FOLDERS.items():
                if name == "msgfolderroot" or name in SYNC_ISSUES_CHILDREN:
                    continue
                folder = Folder(
                    id=ids.folder_id(),
                    display_name=display,
                    parent_id=root.id,
                    well_known=name,
                    hidden=name not in VISIBLE_TOP_LEVEL and name != "syncissues",
                )
                user.folders[folder.id] = folder
                if name == "syncissues":
                    sync_issues_id = folder.id
            for name in SYNC_ISSUES_CHILDREN:
                folder = Folder(
                    id=ids.folder_id(),
                    display_name=WELL_KNOWN_FOLDERS[name],
                    parent_id=sync_issues_id,
                    well_known=name,
                )
                user.folders[folder.id] = folder
            self.state.users[user.id] = user
            self._by_email[user.email.lower()] = user.id
            self.changed()
            return user, True

    def well_known(self, user: User, name: str) -> Folder:
        for folder in user.folders.values():
            if folder.well_known == name:
                return folder
        raise NotFound(name)

    def resolve_folder(self, user: User, ref: str) -> Folder | None:
        """A folder by well-known name (case-insensitive) or by id (case-sensitive)."""
        if ref in user.folders:
            return user.folders[ref]
        low = ref.lower()
        if low in WELL_KNOWN_FOLDERS:
            return self.well_known(user, low)
        return None

    def folder_for_control(self, user: User, ref: str) -> Folder:
        """Control API: a well-known name, a folder id or a display name (created under the root)."""
        folder = self.resolve_folder(user, ref)
        if folder is not None:
            return folder
        for f in user.folders.values():
            if f.display_name.lower() == ref.lower():
                return f
        return self.add_folder(user, ref, self.well_known(user, "msgfolderroot").id)

    def add_folder(self, user: User, display_name: str, parent_id: str) -> Folder:
        with self.lock:
            folder = Folder(id=ids.folder_id(), display_name=display_name, parent_id=parent_id)
            user.folders[folder.id] = folder
            self.changed()
            return folder

    # -- messages ------------------------------------------------------------------------------
    def find_message(self, user: User, any_id: str) -> Message | None:
        key = self._msg_index.get((user.id, any_id))
        return user.messages.get(key) if key else None

    def conversation_index(
        self,
        user: User,
        conversation_id: str,
        headers: list[tuple[str, str]],
        sent: float,
        internet_message_id: str,
        carried: str = "",
    ) -> str:
        """The base64 conversation index a message would get in this mailbox (see emulator.conversation);
        its parent is the message its In-Reply-To names."""
        irt = next((v for k, v in headers if k.lower() == "in-reply-to"), None)
        parent = self.find_by_internet_id(user, irt) if irt else None
        raw = conversation.index_for(
            conversation_id,
            sent,
            internet_message_id,
            parent=conversation.decode(parent.conversation_index) if parent else None,
            carried=conversation.decode(carried) if carried else None,
            known_header=self._conversation_headers.get((user.id, conversation_id)),
        )
        return conversation.encode(raw)

    def _note_conversation(self, user: User, msg: Message) -> None:
        raw = conversation.decode(msg.conversation_index)
        if raw is not None:
            self._conversation_headers.setdefault((user.id, msg.conversation_id), raw[: conversation.HEADER])

    def _touch(self, user: User, msg: Message) -> None:
        user.seq += 1
        msg.seq = user.seq
        msg.modified = float(int(time.time()))
        msg.change_key = ids.change_key()

    def add_message(self, user: User, folder: Folder, **fields: Any) -> Message:
        now = float(int(time.time()))  # Exchange keeps whole seconds; $filter compares what GET shows
        with self.lock:
            attachments = [Attachment.model_validate(a) for a in fields.pop("attachments", [])]
            carried = fields.pop("conversation_index", "")  # the index the sender's copy got, if sent
            msg = Message(
                immutable_id=ids.immutable_id(),
                rest_id=ids.rest_id(),
                folder_id=folder.id,
                received=float(int(fields.pop("received", now))),
                sent=float(int(fields.pop("sent", now))),
                created=now,
                attachments=attachments,
                **fields,
            )
            if not msg.conversation_id:
                msg.conversation_id = "AAQkAGI2" + ids.opaque("", 24)
            if not msg.internet_message_id:
                domain = user.email.split("@")[-1] or "emulator.local"
                msg.internet_message_id = f"<{ids.guid()}@{domain}>"
            msg.conversation_index = self.conversation_index(
                user, msg.conversation_id, msg.headers, msg.sent, msg.internet_message_id, carried
            )
            self._note_conversation(user, msg)
            self._touch(user, msg)
            msg.arrival = msg.seq
            user.messages[msg.immutable_id] = msg
            self._msg_index[(user.id, msg.immutable_id)] = msg.immutable_id
            self._msg_index[(user.id, msg.rest_id)] = msg.immutable_id
            self.changed()
        self._emit(user, folder.id, "created", msg)
        return msg

    def update_message(self, user: User, msg: Message, **fields: Any) -> Message:
        with self.lock:
            for key, value in fields.items():
                setattr(msg, key, value)
            self._touch(user, msg)
            self.changed()
        self._emit(user, msg.folder_id, "updated", msg)
        return msg

    def move_message(self, user: User, msg: Message, folder: Folder) -> Message:
        if folder.id == msg.folder_id:
            return msg
        with self.lock:
            old_folder = msg.folder_id
            user.removals.append(
                Removal(folder_id=old_folder, ids=(msg.immutable_id, msg.rest_id), seq=user.seq + 1)
            )
            self._msg_index.pop((user.id, msg.rest_id), None)
            msg.rest_id = ids.rest_id()  # a regular id changes with the folder; the immutable one stays
            self._msg_index[(user.id, msg.rest_id)] = msg.immutable_id
            msg.folder_id = folder.id
            self._touch(user, msg)
            self.changed()
        self._emit(user, old_folder, "deleted", msg, moved=True)
        self._emit(user, folder.id, "created", msg, moved=True)
        return msg

    def delete_message(self, user: User, msg: Message) -> None:
        with self.lock:
            user.seq += 1
            user.removals.append(
                Removal(folder_id=msg.folder_id, ids=(msg.immutable_id, msg.rest_id), seq=user.seq)
            )
            user.messages.pop(msg.immutable_id, None)
            self._msg_index.pop((user.id, msg.rest_id), None)
            self._msg_index.pop((user.id, msg.immutable_id), None)
            self.changed()
        self._emit(user, msg.folder_id, "deleted", msg)

    def folder_messages(self, user: User, folder_id: str) -> list[Message]:
        return [m for m in user.messages.values() if m.folder_id == folder_id]

    def find_by_internet_id(self, user: User, internet_message_id: str) -> Message | None:
        for m in user.messages.values():
            if m.internet_message_id == internet_message_id:
                return m
        return None
