"""The fake's webhooks, as monday.com's: create_webhook first POSTs {"challenge"} to the URL and wants it
echoed (else the mutation fails); afterwards each matching board event is POSTed as {"event": {...}} in
monday.com's shapes (create_pulse, update_column_value with value/previousValue). Deliveries are made by
a thread, in order, after the change's answer (monday.com does not wait for the receiver either), and
retried a few times on anything but a 2xx (monday.com retries once a minute for 30 minutes).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

CHALLENGE_TIMEOUT = 10.0
DELIVERY_ATTEMPTS = 5
RETRY_SECONDS = 1.0
# monday.com's status colours, by label position (only the look of the payload depends on it).
_STYLES = [
    {"color": "#fdab3d", "border": "#e99729", "var_name": "orange"},
    {"color": "#00c875", "border": "#00b461", "var_name": "green-shadow"},
    {"color": "#e2445c", "border": "#ce3048", "var_name": "red-shadow"},
]
USER_ID = 4012689


class ChallengeFailed(Exception):
    """The URL did not echo the challenge: monday.com refuses to create the webhook."""


@dataclass
class Webhook:
    id: str
    board_id: str
    url: str
    event: str
    config: dict[str, Any] = field(default_factory=dict)

    def wants(self, kind: str, column_id: str | None, column_type: str | None) -> bool:
        if kind == "create_pulse":
            return self.event == "create_item"
        if self.event == "change_column_value":
            return True
        if self.event == "change_specific_column_value":
            return self.config.get("columnId") == column_id
        return self.event == "change_status_column_value" and column_type == "status"


def challenge(url: str) -> None:
    token = uuid.uuid4().hex + uuid.uuid4().hex
    try:
        response = httpx.post(url, json={"challenge": token}, timeout=CHALLENGE_TIMEOUT)
        echoed = response.json().get("challenge") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        echoed = None
    if echoed != token:
        raise ChallengeFailed("the webhook URL did not answer the challenge")


def column_payload(column_type: str, labels: list[str], raw: str, text: str) -> dict[str, Any] | None:
    """A column's value as monday.com puts it in a webhook's value / previousValue (None: empty)."""
    if not text:
        return None
    if column_type == "status":
        index = labels.index(text) if text in labels else 0
        style = _STYLES[index % len(_STYLES)]
        return {
            "label": {"index": index, "text": text, "style": style, "is_done": text == "Done"},
            "post_id": None,
        }
    if column_type == "email":
        return {"email": text, "text": text}
    try:
        value = json.loads(raw)
    except ValueError:
        value = text
    return value if isinstance(value, dict) else {"value": value}


def _envelope(webhook: Webhook, event: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event": {
            "app": "monday",
            "userId": USER_ID,
            "originalTriggerUuid": None,
            "boardId": int(webhook.board_id),
            **event,
            "isTopGroup": True,
            "triggerTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "subscriptionId": int(webhook.id),
            "triggerUuid": uuid.uuid4().hex,
        }
    }


def item_created_event(group_id: str, group_title: str, item_id: str, name: str) -> dict[str, Any]:
    return {
        "type": "create_pulse",
        "pulseId": int(item_id),
        "pulseName": name,
        "groupId": group_id,
        "groupName": group_title,
        "groupColor": "#579bfc",
        "columnValues": {},
    }


def column_changed_event(
    item_id: str,
    name: str,
    group_id: str,
    column: tuple[str, str, str],
    value: dict[str, Any] | None,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    column_id, title, column_type = column
    return {
        "type": "update_column_value",
        "groupId": group_id,
        "pulseId": int(item_id),
        "pulseName": name,
        "columnId": column_id,
        # monday.com names a status column's type "color" in webhooks.
        "columnType": "color" if column_type == "status" else column_type,
        "columnTitle": title,
        "value": value,
        "previousValue": previous,
        "changedAt": time.time(),
    }


class Deliverer:
    """Posts queued deliveries from one thread, in order; keeps a log for the control API."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="webhook-deliveries", daemon=True)
        self._thread.start()

    def send(self, webhooks: list[Webhook], event: dict[str, Any]) -> None:
        for webhook in webhooks:
            self._queue.put((webhook.url, _envelope(webhook, event)))

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.log)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            while True:
                url, body = self._queue.get()
                status = 0
                for _attempt in range(DELIVERY_ATTEMPTS):
                    try:
                        status = http.post(url, json=body).status_code
                    except httpx.HTTPError:
                        status = 0
                    if 200 <= status < 300:
                        break
                    time.sleep(RETRY_SECONDS)
                with self._lock:
                    # The URL holds the receiver's secret: the log keeps the event only.
                    self.log.append({"status": status, "event": body["event"]})
