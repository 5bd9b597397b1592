"""Which API the CLI calls and with which token: flags first, then the environment, then (for an API on
this machine, run inside the checkout, in its root or a folder below) the admin token `make run` writes
to .data/admin-token."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_API_URL = "http://127.0.0.1:8000"
URL_VARIABLE = "OI_API_URL"
# OI_API_TOKEN first; OUTLOOK_INTEGRATION_TOKEN is the name issue 13 gave it.
TOKEN_VARIABLES = ("OI_API_TOKEN", "OUTLOOK_INTEGRATION_TOKEN")
LOCAL_TOKEN_FILE = Path(".data") / "admin-token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class BadTarget(ValueError):
    """An API URL the CLI cannot use (a usage error)."""


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str | None
    # Where the token came from, for the hint after a 401.
    token_source: str


def resolve(
    api: str | None, token: str | None, environ: dict[str, str] | None = None, cwd: Path | None = None
) -> Target:
    env = os.environ if environ is None else environ
    base_url = (api or env.get(URL_VARIABLE) or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadTarget(f"the API URL must look like http://host:port, not {base_url!r}")
    if token:
        return Target(base_url, token, "--token")
    for name in TOKEN_VARIABLES:
        if env.get(name):
            return Target(base_url, env[name].strip(), name)
    # The checkout's own admin token is only ever sent to an API on this machine.
    if parts.hostname in LOOPBACK_HOSTS:
        path = local_token_file(cwd or Path.cwd())
        if path is not None:
            return Target(base_url, path.read_text().strip() or None, str(path))
    return Target(base_url, None, "nowhere")


def local_token_file(cwd: Path) -> Path | None:
    """.data/admin-token in `cwd` or, run from a folder inside the checkout, in the checkout's root: the
    nearest folder up that has it, looking no higher than the first that holds a pyproject.toml."""
    for folder in (cwd, *cwd.parents):
        path = folder / LOCAL_TOKEN_FILE
        if path.is_file():
            return path
        if (folder / "pyproject.toml").is_file():
            return None
    return None
