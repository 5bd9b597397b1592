"""What the outgoing path exchanges: the API's forwarder and the connection workflow (a board event for a
recipe), the connection workflow and SendEmailWorkflow, and the send workflow's activities.

Ids, outcomes, recipe names and fixed phrases only, except `RenderedEmail` (recipes.render): the email's
recipients, subject and body travel between the render and send steps, and only ever reach Temporal
encrypted by the payload codec (codec/). Reasons never quote the email or the item.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from payloads.messages import Outcome
from recipes.render import RenderedEmail

__all__ = [
    "MAX_PENDING_SENDS",
    "SEND_REFUSED",
    "BoardEventSignal",
    "Outcome",
    "RenderResult",
    "RenderedEmail",
    "SendEmailInput",
    "SendOutcome",
    "SendRecord",
    "SendRequest",
    "SendResult",
    "SendState",
]

# A connection workflow keeps at most this many board events waiting for their child (carried across
# continue-as-new, so bounded: temporal-facts.md).
MAX_PENDING_SENDS = 500

# The ApplicationError type of a send that must not be retried: the connection may not send (no
# Mail.Send), it no longer exists, or Graph refused the message (a 4xx other than 429).
SEND_REFUSED = "SendRefused"


class BoardEventSignal(BaseModel):
    """The connection workflow's `board_event` signal: this recipe of the connection watches the board
    where this event happened, and its trigger matched when the API forwarded it."""

    event_id: str = Field(max_length=64)
    recipe_id: str = Field(max_length=64)


class SendRequest(BaseModel):
    """Which send: the key of the send ledger (db/outgoing_sends.py) plus the connection that sends."""

    connection_id: str
    event_id: str
    recipe_id: str

    def log_id(self) -> str:
        """The activity log's message_id for this send."""
        return f"send/{self.event_id}/{self.recipe_id}"


class SendEmailInput(BaseModel):
    connection_id: str
    event_id: str
    recipe_id: str
    # Set by the connection workflow when its connection may not send any more (revoked, invalid): the
    # send is recorded as failed with this reason and nothing is rendered or sent.
    refused: str = ""
    # How long one sendMail attempt may take before Temporal retries it (the retry then checks Sent
    # Items first). Tests shorten it.
    send_timeout: timedelta = timedelta(seconds=60)

    def request(self) -> SendRequest:
        return SendRequest(connection_id=self.connection_id, event_id=self.event_id, recipe_id=self.recipe_id)


class RenderResult(BaseModel):
    """The render step: the email to send, or why there is none (the outcome to record instead)."""

    email: RenderedEmail | None = None
    outcome: Outcome = Outcome.PROCESSED
    reason: str = ""
    recipe_name: str = ""


class SendState(BaseModel):
    """The send step's input: which send and what to send."""

    request: SendRequest
    email: RenderedEmail


class SendOutcome(BaseModel):
    """What the send step knows: "sent" (by this attempt, or found in Sent Items after an unknown
    outcome), "already sent" (the ledger says so), or "unknown" (sent or not, nobody can tell: no
    Mail.Read to look in Sent Items, so it is never sent again)."""

    state: str
    reason: str = ""


class SendResult(BaseModel):
    outcome: Outcome
    reason: str = ""


class SendRecord(BaseModel):
    """The activity log's row for the send, written once at the end."""

    request: SendRequest
    result: SendResult
    recipe_name: str = ""
    # Template fields that rendered empty, by name.
    missing: list[str] = Field(default_factory=list)
