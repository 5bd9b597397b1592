"""What `python -m stack` runs where: ports (overridable by STACK_* env) and paths under DATA_DIR."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.settings import Settings
from config.temporal import client_auth_variables, client_environment

REPO_ROOT = Path(__file__).resolve().parents[1]


class StackSettings(BaseSettings):
    """The supervisor's own knobs. API_PORT and DATA_DIR come from the service's settings."""

    model_config = SettingsConfigDict(
        env_prefix="STACK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # Empty: the Temporal UI decodes payloads through the API's /codec (PUBLIC_BASE_URL + /codec).
    temporal_ui_codec_endpoint: str = ""
    openbao_port: int = 8200
    openbao_cluster_port: int = 8201
    emulator_port: int = 9443
    # Seconds a part may take to become healthy before the start counts as failed.
    health_timeout: float = 90.0
    # Seconds between SIGTERM and SIGKILL when stopping a part.
    # The worker lets running activities finish for up to 20 s on SIGTERM.
    stop_timeout: float = 25.0
    # Restart backoff: first delay, doubled per quick successive failure, capped.
    restart_backoff_initial: float = 0.5
    restart_backoff_max: float = 30.0


@dataclass(frozen=True)
class StackPaths:
    data_dir: Path

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def openbao(self) -> Path:
        return self.data_dir / "openbao"

    @property
    def temporal(self) -> Path:
        return self.data_dir / "temporal"

    @property
    def emulator(self) -> Path:
        return self.data_dir / "emulator"

    @property
    def emulator_ca(self) -> Path:
        return self.emulator / "ca.pem"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "stack.lock"

    @property
    def admin_token(self) -> Path:
        return self.data_dir / "admin-token"

    def log(self, part: str) -> Path:
        return self.logs / f"{part}.log"


def service_settings(stack: StackSettings, data_dir: Path) -> Settings:
    """The service's settings as the children will see them (explicit env still wins for the URL)."""
    base = Settings()
    overrides: dict[str, object] = {
        "data_dir": data_dir,
        "temporal_address": f"127.0.0.1:{stack.temporal_port}",
        "temporal_ui_url": f"http://127.0.0.1:{stack.temporal_ui_port}",
        "vault_addr": f"http://127.0.0.1:{stack.openbao_port}",
        "ms_authority": f"https://127.0.0.1:{stack.emulator_port}/common",
        "ms_graph_base_url": f"https://127.0.0.1:{stack.emulator_port}/v1.0",
        "ms_ca_bundle": StackPaths(data_dir).emulator_ca,
    }
    if "PUBLIC_BASE_URL" not in os.environ:
        overrides["public_base_url"] = HttpUrl(f"http://{base.api_host}:{base.api_port}")
    return base.model_copy(update=overrides)


def child_env(settings: Settings, vault_role_id: str, vault_secret_id: str) -> dict[str, str]:
    """The environment every service child gets: the settings' env vars, nothing printed anywhere.

    The children's Temporal client is the dev server this stack starts, without TLS or an API key,
    whatever the operator's shell or ~/.config/temporalio/temporal.toml configure for their own clients
    (Temporal's environment configuration, config/temporal.py): those variables are emptied (empty counts
    as unset, and hides the same name in .env) and no TOML file is read (os.devnull).
    """
    env = dict(os.environ)
    for name in client_auth_variables(client_environment(env)):
        env[name] = ""
    env.update(
        {
            "DATA_DIR": str(settings.data_dir),
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "TEMPORAL_CONFIG_FILE": os.devnull,
            "TEMPORAL_UI_URL": settings.temporal_ui_url,
            "VAULT_ADDR": settings.vault_addr,
            "VAULT_ROLE_ID": vault_role_id,
            "VAULT_SECRET_ID": vault_secret_id,
            "MS_AUTHORITY": settings.ms_authority,
            "MS_GRAPH_BASE_URL": settings.ms_graph_base_url,
            "MS_CA_BUNDLE": str(settings.ms_ca_bundle),
            "API_HOST": settings.api_host,
            "API_PORT": str(settings.api_port),
            "PUBLIC_BASE_URL": settings.public_base,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
