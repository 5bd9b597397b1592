"""The service's settings: one class, every value overridable by an environment variable of the same name.

Outside development the service refuses to start on a default, missing or example secret, so a
production deployment can never run on the values that ship in this repository.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship with the repository (here and in .env.example). They are fine on a developer's
# machine and refused anywhere else.
DEV_SESSION_SECRET = "development-session-secret-not-for-production"
DEV_CLIENT_SECRET = "development-client-secret"
EXAMPLE_MARKERS = ("change-me", "example", "development-")
# The emulator's client id and its host name in docker-compose's dev profile: Microsoft is neither.
EMULATOR_CLIENT_ID = "00000000-0000-4000-8000-00000000c0de"
EMULATOR_HOSTS = ("emulator",)


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: a host only this machine reaches."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _emulator_url_problem(name: str, url: str) -> str | None:
    """Why `url` cannot be Microsoft's (the emulator runs on this machine or as compose's "emulator")."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        return f"{name.upper()} must be an https URL of Microsoft's service"
    if is_loopback_host(host) or host in EMULATOR_HOSTS or "/_emulator" in parts.path:
        return f"{name.upper()} points at the emulator ({host}), not at Microsoft"
    return None


class Settings(BaseSettings):
    # hide_input_in_errors: a refusal must not print the values it refuses (they are secrets).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    # Typed so that a typo (ENVIRONMENT=prod, PUBLIC_BASE_URL=htps://...) stops the start with the
    # field's name and what it accepts, instead of running as "not development" or with broken links.
    environment: Literal["development", "staging", "production"] = Field(
        "development", description="development, staging or production"
    )
    data_dir: Path = Field(Path(".data"), description="Local state: databases, OpenBao storage, keys")
    log_level: str = "INFO"
    # "json": one JSON object per line (time, level, logger, message, ids), as `make run` writes to
    # .data/logs/; "text": the classic one-line format, for reading a process's output by eye.
    log_format: Literal["json", "text"] = Field("json", description="json or text log lines")
    # The worker's Prometheus endpoint (our counters and the Temporal SDK's), on 127.0.0.1; 0: none.
    worker_metrics_port: int = Field(9464, ge=0, le=65535, description="The worker's /metrics port")
    # In a container, 0.0.0.0 lets a Prometheus outside it scrape the worker.
    worker_metrics_host: str = Field("127.0.0.1", description="Address the worker's /metrics listens on")

    # Application database (accounts, users, recipes, boards, activity). Never tokens or email bodies.
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file under data_dir")

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # `make run` starts uvicorn with this many worker processes (one event loop each; each also runs
    # the webhook outbox forwarder). Other deployments choose their own process count.
    api_workers: int = Field(2, ge=1, le=64, description="API processes `make run` starts")
    public_base_url: HttpUrl = Field(
        HttpUrl("http://127.0.0.1:8000"),
        description="How browsers and Microsoft reach the API (redirect URI base); see `public_base`",
    )
    session_secret: SecretStr = SecretStr(DEV_SESSION_SECRET)
    session_max_age_seconds: int = 8 * 3600
    readiness_timeout_seconds: float = Field(2.0, description="Per-check time limit of GET /readyz")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "outlook-integration"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # The worker's threads for blocking calls (database, Vault): asyncio.to_thread's pool. Sized by
    # measurement (bench/README.md, "worker thread pool"), not asyncio's cores + 4.
    worker_io_threads: int = Field(32, ge=1, le=256, description="Threads of the worker's blocking-call pool")

    # Vault / OpenBao: the service logs in with AppRole and a narrow policy, never with a root token.
    vault_addr: str = "http://127.0.0.1:8200"
    vault_role_id: str = ""
    vault_secret_id: SecretStr = SecretStr("")
    vault_kv_mount: str = "outlook-kv"
    vault_transit_mount: str = "outlook-transit"
    vault_ca_bundle: Path | None = None

    # Microsoft identity platform and Graph (the local emulator in development).
    ms_authority: str = "https://127.0.0.1:9443/common"
    ms_graph_base_url: str = "https://127.0.0.1:9443/v1.0"
    ms_client_id: str = EMULATOR_CLIENT_ID
    ms_client_secret: SecretStr = SecretStr(DEV_CLIENT_SECRET)
    ms_ca_bundle: Path | None = Field(
        None, description="CA file that signs the Microsoft endpoints' certificates (the emulator's ca.pem)"
    )

    # monday.com's GraphQL API: where an account's link points unless the admin gives another URL.
    monday_api_url: str = "https://api.monday.com/v2"

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'app.db'}"

    @property
    def public_base(self) -> str:
        """PUBLIC_BASE_URL as text without a trailing slash, to append paths to (`f"{public_base}/codec"`).
        HttpUrl writes an empty path as "/" (http://127.0.0.1:8000/); this is the value as configured."""
        return str(self.public_base_url).rstrip("/")

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.public_base}/oauth/callback"

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Settings:
        if self.is_development:
            return self
        problems = []
        for name in ("session_secret", "ms_client_secret", "vault_secret_id"):
            value: SecretStr = getattr(self, name)
            raw = value.get_secret_value()
            if not raw:
                problems.append(f"{name.upper()} is missing")
            elif any(marker in raw for marker in EXAMPLE_MARKERS) or len(raw) < 16:
                problems.append(f"{name.upper()} is a default or example value")
        if not self.vault_role_id:
            problems.append("VAULT_ROLE_ID is missing")
        problems.extend(self._url_problems())
        if problems:
            raise ValueError(f"refusing to start with ENVIRONMENT={self.environment}: " + "; ".join(problems))
        return self

    def _url_problems(self) -> list[str]:
        """Outside development: Microsoft's real endpoints, and a redirect URI that only TLS protects
        (Microsoft accepts http only for loopback, where nothing crosses a network)."""
        problems = []
        base = self.public_base_url
        if base.scheme != "https" and not is_loopback_host(base.host or ""):
            problems.append(
                f"PUBLIC_BASE_URL must be https for a non-loopback host ({base.host}): the OAuth "
                "redirect URI and the session cookie would cross the network unencrypted"
            )
        for name in ("ms_authority", "ms_graph_base_url"):
            problem = _emulator_url_problem(name, getattr(self, name))
            if problem:
                problems.append(problem)
        if self.ms_client_id == EMULATOR_CLIENT_ID:
            problems.append("MS_CLIENT_ID is the emulator's client id; set your app registration's")
        return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
