"""`make run` points the Temporal UI at the API's codec server."""

from __future__ import annotations

from pathlib import Path

from stack.config import StackPaths, StackSettings
from stack.parts import build_stack
from tests.support.appdb import make_settings


def _ui_codec_endpoint(command: list[str]) -> str:
    assert command.count("--ui-codec-endpoint") == 1, command
    return command[command.index("--ui-codec-endpoint") + 1]


def test_dev_server_gets_the_apis_codec_endpoint(tmp_path: Path) -> None:
    service = make_settings(tmp_path, api_port=8123, public_base_url="http://127.0.0.1:8123")
    stack = build_stack(
        StackSettings(_env_file=None, temporal_ui_codec_endpoint=""), StackPaths(tmp_path), service
    )
    [temporal] = [part for part in stack.parts if part.name == "temporal"]
    assert _ui_codec_endpoint(temporal.command) == "http://127.0.0.1:8123/codec"
    # The same site as the UI (127.0.0.1), so the API's SameSite=Lax session cookie goes along.
    assert stack.temporal.ui_url.startswith("http://127.0.0.1:")


def test_an_explicit_endpoint_wins(tmp_path: Path) -> None:
    service = make_settings(tmp_path)
    settings = StackSettings(_env_file=None, temporal_ui_codec_endpoint="https://codec.example/codec")
    stack = build_stack(settings, StackPaths(tmp_path), service)
    assert _ui_codec_endpoint(stack.temporal.command()) == "https://codec.example/codec"
