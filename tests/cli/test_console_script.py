"""The console script `make bootstrap` installs (.venv/bin/outlook-integration, pyproject.toml
[project.scripts]), run as a process: its help, and commands against the real app served on a loopback
port, with the token from --token, from $OUTLOOK_INTEGRATION_TOKEN, and from the checkout's
.data/admin-token (in the folder it runs in, or a folder above it inside the checkout)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.recipes.support import add_connection
from tests.support.servers import free_port
from tests.support.serving import serving

# The interpreter's own bin folder: the virtual environment the bootstrap made (not resolved: the
# environment's python is a link to the system's).
SCRIPT = Path(sys.executable).parent / "outlook-integration"


def clean_environment(**extra: str) -> dict[str, str]:
    """The caller's environment without any API URL or token of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OI_", "OUTLOOK_INTEGRATION_"))}
    return {**env, **extra}


async def script(*argv: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def test_the_bootstrap_installed_the_script():
    assert SCRIPT.is_file() and os.access(SCRIPT, os.X_OK), (
        f"{SCRIPT} is missing: `make bootstrap` (uv sync) installs it from pyproject.toml [project.scripts]"
    )


async def test_help_names_the_script_and_its_commands(tmp_path):
    code, out, err = await script("--help", cwd=tmp_path, env=clean_environment())
    assert code == 0 and err == ""
    assert out.startswith("usage: outlook-integration ")
    assert "Exit codes:" in out and "OUTLOOK_INTEGRATION_TOKEN" in out
    code, out, _ = await script("connections", "--help", cwd=tmp_path, env=clean_environment())
    assert code == 0
    for action in ("list", "show", "resync", "disconnect", "reconnect"):
        assert action in out
    code, _, err = await script("connections", "resync", "42", cwd=tmp_path, env=clean_environment())
    assert code == 2 and err.startswith("usage: outlook-integration connections resync")


@pytest.fixture
async def api_url(app):
    port = free_port()
    async with serving(app, port, lifespan="off"):
        yield f"http://127.0.0.1:{port}"


async def test_commands_against_a_running_api_with_each_token_source(
    api_url, engine, admin, tmp_path, temporal
):
    connection_id = add_connection(engine, admin[0], mailbox="ada@contoso.test")
    token = admin[1]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # --token
    code, out, err = await script(
        "--api",
        api_url,
        "--token",
        token,
        "connections",
        "list",
        "--json",
        cwd=elsewhere,
        env=clean_environment(),
    )
    assert code == 0, err
    assert [c["id"] for c in json.loads(out)["data"]] == [connection_id]

    # $OUTLOOK_INTEGRATION_TOKEN (and the URL from $OI_API_URL)
    env = clean_environment(OI_API_URL=api_url, OUTLOOK_INTEGRATION_TOKEN=token)
    code, out, err = await script("connections", "list", cwd=elsewhere, env=env)
    assert code == 0, err
    assert out.splitlines()[1].split()[:3] == [connection_id, "ada@contoso.test", "active"]

    # .data/admin-token of the checkout it runs in: its root, or a folder inside it.
    checkout = tmp_path / "checkout"
    (checkout / ".data").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'outlook-integration'\n")
    (checkout / ".data" / "admin-token").write_text(token + "\n")
    (checkout / "cli").mkdir()
    env = clean_environment(OI_API_URL=api_url)
    for cwd in (checkout, checkout / "cli"):
        code, out, err = await script("connections", "resync", connection_id, cwd=cwd, env=env)
        assert code == 0, err
        assert out.startswith("Catch-up requested for ada@contoso.test: ")
    assert len(temporal.signals) == 2

    # Outside any checkout and without a token: refused, with where a token is looked for.
    code, out, err = await script("connections", "list", cwd=elsewhere, env=env)
    assert code == 1 and out == ""
    assert "(no token was given: pass --token or set $OI_API_TOKEN)" in err
