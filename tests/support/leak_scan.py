"""Finding secrets where a plain text search cannot: inside Temporal histories, logs and the database.

A history's JSON carries every payload (workflow input and result, signal, activity input and result,
memo, search attribute, header, failure details, continue-as-new input) as base64, so a token in any of
them never matches the JSON text. The scanner walks every protobuf field of every event, takes every
payload's bytes (through the payload codec when there is one), and then decodes every base64-looking run
inside those bytes again, a few levels deep (base64 inside a JSON string inside a payload). Each secret
is searched in its plain, base64 (every alignment, both alphabets), URL-quoted and JSON-escaped forms,
so an encoded copy is found even where decoding is not tried.

Payloads encrypted by the payload codec are decoded with the tests' keyring (tests/support/codec_keys.py)
unless a scan asks for the history as stored: `scan_email_content` checks that an email's content is in
a history only encrypted, i.e. absent from what `temporal workflow show --output json` prints and present
once the history is decoded.

Findings name a secret by its label, never by its value, so a failing test does not print the secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.protobuf.json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from sqlalchemy import Engine, MetaData, select
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec

from tests.support.codec_keys import TEST_CODEC

# A secret shorter than this would be found by chance in unrelated bytes.
MIN_SECRET_LENGTH = 12
# Base64 runs shorter than this decode to fewer than 12 bytes: too short to hold a secret worth finding.
_B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_DECODE_DEPTH = 3
# What pydantic writes for a SecretStr in JSON mode: a masked value is no leak.
_MASKED = re.compile(r"^\**$")


@dataclass(frozen=True)
class Blob:
    """Bytes to search and where they came from (a history path, a file, a table column)."""

    where: str
    data: bytes


@dataclass(frozen=True)
class Finding:
    """A secret (by label, never by value) or a secret-shaped string found somewhere."""

    label: str
    where: str
    form: str

    def __str__(self) -> str:
        return f"{self.label} ({self.form}) in {self.where}"


def _base64_forms(value: bytes) -> Iterator[str]:
    """The secret as it appears inside any base64 text: one form per alignment of its first byte.

    Base64 maps 3 bytes to 4 characters, so the characters a secret contributes depend on how many
    bytes precede it; the characters shared with its neighbours are cut off each end."""
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value).decode("ascii").rstrip("=")
        first = -(-offset * 8 // 6)  # ceil: the first character made only of the secret's bits
        last = (offset + len(value)) * 8 // 6  # floor: characters after it mix in the next byte
        core = encoded[first:last]
        yield core
        yield core.replace("+", "-").replace("/", "_")


class Secrets:
    """Known secret values, each with a label to report instead of the value."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def add(self, label: str, value: str | None) -> None:
        if not value:
            return
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"{label} is too short to search for without false matches")
        self._labels.setdefault(value, label)

    def add_all(self, label: str, values: Iterable[str]) -> None:
        for index, value in enumerate(values, start=1):
            self.add(f"{label} #{index}", value)

    def __len__(self) -> int:
        return len(self._labels)

    def labels(self) -> list[str]:
        return sorted(set(self._labels.values()))

    def _needles(self) -> Iterator[tuple[bytes, str, str]]:
        for value, label in self._labels.items():
            forms: dict[str, str] = {value: "plain"}
            forms.setdefault(urllib.parse.quote(value, safe=""), "URL-quoted")
            forms.setdefault(json.dumps(value)[1:-1], "JSON-escaped")
            for core in _base64_forms(value.encode("utf-8")):
                forms.setdefault(core, "base64")
            for text, form in forms.items():
                yield text.encode("utf-8"), label, form

    def find(self, blobs: Sequence[Blob]) -> list[Finding]:
        """Every secret found in the blobs, once per (secret, place)."""
        joined, starts = _join(blobs)
        found: dict[tuple[str, str], Finding] = {}
        for needle, label, form in self._needles():
            at = joined.find(needle)
            while at != -1:
                where = blobs[_owner(starts, at)].where
                found.setdefault((label, where), Finding(label, where, form))
                at = joined.find(needle, at + 1)
        return list(found.values())


def _join(blobs: Sequence[Blob]) -> tuple[bytes, list[int]]:
    # One search per needle over everything is far faster than one per blob; a NUL between blobs
    # keeps a needle from matching across two of them (no needle contains a NUL).
    starts: list[int] = []
    position = 0
    for blob in blobs:
        starts.append(position)
        position += len(blob.data) + 1
    return b"\0".join(blob.data for blob in blobs), starts


def _owner(starts: list[int], at: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if starts[middle] <= at:
            low = middle
        else:
            high = middle - 1
    return low


# ----- decoding --------------------------------------------------------------------------------------


def _b64decode(run: bytes) -> bytes | None:
    text = run.rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
    text = text[: len(text) - (len(text) % 4 == 1)]  # one dangling character cannot be decoded
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def expand(blobs: Iterable[Blob], depth: int = _DECODE_DEPTH) -> list[Blob]:
    """The blobs plus what every base64 run in them decodes to, recursively up to `depth` levels."""
    out: list[Blob] = []
    pending = [(blob, 0) for blob in blobs]
    while pending:
        blob, level = pending.pop()
        out.append(blob)
        if level >= depth:
            continue
        for index, match in enumerate(_B64_RUN.finditer(blob.data)):
            decoded = _b64decode(match.group())
            if decoded:
                pending.append((Blob(f"{blob.where} > base64 run {index}", decoded), level + 1))
    return out


def _history(history: WorkflowHistory | History | str | dict[str, Any]) -> History:
    if isinstance(history, History):
        return history
    if isinstance(history, WorkflowHistory):
        return History(events=history.events)
    # from_json also reads the Temporal CLI's and UI's JSON (enum names differ from to_json's).
    return History(events=WorkflowHistory.from_json("scan", history).events)


def _is_map(field: FieldDescriptor) -> bool:
    entry = field.message_type
    return entry is not None and bool(entry.GetOptions().map_entry)


def _walk(message: Message, path: str, blobs: list[Blob], payloads: list[tuple[str, Payload]]) -> None:
    """Every string and bytes value of the message, at any depth; payloads are also collected."""
    if isinstance(message, Payload):
        payloads.append((path, message))
    for field, value in message.ListFields():
        name = f"{path}.{field.name}"
        if _is_map(field):
            items: Iterable[tuple[str, Any]] = ((f"{name}[{k}]", v) for k, v in value.items())
        elif field.is_repeated:
            items = ((f"{name}[{i}]", v) for i, v in enumerate(value))
        else:
            items = [(name, value)]
        for where, item in items:
            if isinstance(item, Message):
                _walk(item, where, blobs, payloads)
            elif isinstance(item, bytes):
                blobs.append(Blob(where, item))
            elif isinstance(item, str):
                blobs.append(Blob(where, item.encode("utf-8")))


async def history_blobs(
    history: WorkflowHistory | History | str | dict[str, Any],
    name: str,
    codec: PayloadCodec | None = TEST_CODEC,
) -> list[Blob]:
    """Everything a history holds, decoded: its JSON, every field, every payload (also through the
    codec, by default the tests' one; None: as stored) and every base64 run inside those, recursively."""
    # Parsing, walking and expanding take seconds for big histories: in a thread, off the event loop
    # (the e2e tests' API and worker share it with the test).
    blobs, payloads = await asyncio.to_thread(_fields, history, name)
    if codec is not None and payloads:
        decoded = await codec.decode([payload for _, payload in payloads])
        for (path, _), payload in zip(payloads, decoded, strict=True):
            _walk(payload, f"{path} (codec-decoded)", blobs, [])
    return await asyncio.to_thread(expand, blobs)


def _fields(
    history: WorkflowHistory | History | str | dict[str, Any], name: str
) -> tuple[list[Blob], list[tuple[str, Payload]]]:
    """The history's JSON and every field (as blobs), and its payloads."""
    proto = _history(history)
    blobs = [Blob(f"{name} (JSON)", google.protobuf.json_format.MessageToJson(proto).encode("utf-8"))]
    payloads: list[tuple[str, Payload]] = []
    _walk(proto, name, blobs, payloads)
    return blobs, payloads


async def stored_history_blobs(
    history: WorkflowHistory | History | str | dict[str, Any], name: str
) -> list[Blob]:
    """A history as the server keeps it and `temporal workflow show --output json` prints it: every
    field and payload and the base64 inside them, but nothing decrypted. Given as text (the CLI's
    output, say), the text itself is searched as well."""
    blobs = await history_blobs(history, name, codec=None)
    if isinstance(history, str):
        blobs += expand([Blob(f"{name} (text)", history.encode("utf-8"))])
    return blobs


def email_content(subject: str, body: str, **more: str) -> Secrets:
    """An email's subject, body and any other field (sender, preview...) to search histories for; each
    must be long enough to search for without false matches (MIN_SECRET_LENGTH)."""
    content = Secrets()
    content.add("the email's subject", subject)
    content.add("the email's body", body)
    for label, value in more.items():
        content.add(f"the email's {label}", value)
    return content


@dataclass(frozen=True)
class ContentScan:
    """Where an email's content is in a history: `stored` must be empty (nothing readable in the
    history as stored); `decoded` shows the scan did see the content that went through the codec."""

    stored: list[Finding]
    decoded: list[Finding]

    def only_encrypted(self) -> bool:
        return not self.stored and bool(self.decoded)


async def scan_email_content(
    history: WorkflowHistory | History | str | dict[str, Any],
    name: str,
    content: Secrets,
    codec: PayloadCodec = TEST_CODEC,
) -> ContentScan:
    """Searches the history for the content as stored, and decoded through `codec`.

    scan = await scan_email_content(history, handle.id, email_content(subject, body))
    assert not scan.stored, "\n".join(map(str, scan.stored))
    assert scan.decoded  # when the workflow carries the content at all
    """
    stored = content.find(await stored_history_blobs(history, name))
    decoded = content.find(await history_blobs(history, name, codec))
    return ContentScan(stored=stored, decoded=decoded)


def secret_named_fields(blobs: Iterable[Blob]) -> list[Finding]:
    """Values of JSON fields named like a secret (clientState, refresh_token...), unless masked."""
    found: list[Finding] = []
    for blob in blobs:
        stripped = blob.data.strip()
        if stripped[:1] not in (b"{", b"["):
            continue
        try:
            parsed = json.loads(stripped)
        except (UnicodeDecodeError, ValueError):
            continue
        for key, value in _json_items(parsed):
            if _SECRET_KEY.match(key.replace("_", "").replace("-", "")) and _unmasked(value):
                found.append(Finding(f"a value of a field named {key!r}", blob.where, "secret-named field"))
    return found


_SECRET_KEY = re.compile(
    r"^(accesstoken|refreshtoken|idtoken|clientsecret|clientstate|secretid|roleid|vaulttoken|"
    r"password|codeverifier|authcode|authorizationcode)$",
    re.IGNORECASE,
)


def _unmasked(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not _MASKED.match(value)


def _json_items(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from _json_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_items(item)


# ----- secret shapes (for histories recorded in another run, whose secrets are unknown here) ---------

_NOT_TOKEN_BEFORE = rb"(?<![A-Za-z0-9_.~+/-])"
SHAPES: dict[str, re.Pattern[bytes]] = {
    # header.payload.signature of a JWT: Microsoft's (and the emulator's) access and id tokens.
    "JWT": re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    # Entra ID refresh tokens and auth codes ("0.A...", "1.A..."; the emulator's start "1.AXkA").
    "Microsoft refresh token or auth code": re.compile(_NOT_TOKEN_BEFORE + rb"[01]\.A[A-Za-z0-9_-]{40,}"),
    # Microsoft account (consumer) refresh tokens: "M.C5xx_BAY.-Cfe...".
    "Microsoft account refresh token": re.compile(rb"M\.[A-Z0-9]{2,4}_[A-Z0-9]{2,6}\.[A-Za-z0-9!*$_-]{20,}"),
    # Entra ID client secrets: three characters, a digit, "Q~", then 31 to 37 more.
    "Entra ID client secret": re.compile(
        _NOT_TOKEN_BEFORE + rb"[A-Za-z0-9_.~-]{3}\dQ~[A-Za-z0-9_.~-]{31,37}"
    ),
    # The client secrets this repository's tests and development settings use.
    "test client secret": re.compile(
        rb"(?:e2e-client-secret-|graph-test-secret-)[0-9a-f-]{8,}|development-client-secret"
    ),
    # Vault (hvs./hvb./hvr.) and OpenBao (s./b./r.) tokens.
    "Vault token": re.compile(_NOT_TOKEN_BEFORE + rb"(?:hv[sbr]|[sbr])\.[A-Za-z0-9]{24,}"),
}
# The service's clientState: secrets.token_urlsafe(48), 64 URL-safe characters with mixed case. Only
# whole JSON string values are compared, as the raw JSON is full of base64 runs of every length.
_CLIENT_STATE = re.compile(r"^[A-Za-z0-9_-]{64}$")


def secret_shapes(blobs: Iterable[Blob]) -> list[Finding]:
    """Strings shaped like a token, a client secret, a Vault token or a clientState."""
    found: dict[tuple[str, str], Finding] = {}
    for blob in blobs:
        for kind, pattern in SHAPES.items():
            if pattern.search(blob.data):
                found.setdefault((kind, blob.where), Finding(f"a {kind}", blob.where, "shape"))
    for finding in secret_named_fields(blobs):
        found.setdefault((finding.label, finding.where), finding)
    for finding in _client_state_values(blobs):
        found.setdefault((finding.label, finding.where), finding)
    return list(found.values())


def _client_state_values(blobs: Iterable[Blob]) -> Iterator[Finding]:
    """JSON strings anywhere in a JSON blob (or the blob's one JSON string) shaped like a clientState."""
    for blob in blobs:
        if blob.data.strip()[:1] not in (b"{", b"[", b'"'):
            continue
        try:
            parsed = json.loads(blob.data)
        except (UnicodeDecodeError, ValueError):
            continue
        for value in _json_strings(parsed):
            if _CLIENT_STATE.match(value) and all(re.search(p, value) for p in ("[a-z]", "[A-Z]", "[0-9]")):
                yield Finding("a clientState-shaped value", blob.where, "shape")


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


# ----- recorded histories, files and the database -------------------------------------------------


def recorded_histories(folder: Path) -> list[Path]:
    """The histories recorded for the replay tests: JSON, some gzipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith((".json", ".json.gz")))


def read_history_text(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode("utf-8")


def file_blobs(paths: Iterable[Path]) -> list[Blob]:
    return expand(Blob(str(path), path.read_bytes()) for path in paths if path.is_file())


def database_blobs(engine: Engine) -> list[Blob]:
    """Every text and binary value of every row of every table, as stored (nothing is decoded: a
    secret must not be in the database in any form, so its plain and encoded forms are searched)."""
    metadata = MetaData()
    metadata.reflect(engine)
    blobs: list[Blob] = []
    with engine.connect() as db:
        for table in metadata.sorted_tables:
            for row_number, row in enumerate(db.execute(select(table)).mappings()):
                for column, value in row.items():
                    where = f"table {table.name}, row {row_number}, column {column}"
                    if isinstance(value, str):
                        blobs.append(Blob(where, value.encode("utf-8")))
                    elif isinstance(value, bytes | bytearray | memoryview):
                        blobs.append(Blob(where, bytes(value)))
    return blobs
