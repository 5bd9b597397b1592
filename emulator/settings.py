"""The emulator's own settings (prefix EMULATOR_); independent of the service's config.settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppRegistration(BaseModel):
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500)
    redirect_uris: list[str] = Field(default_factory=list)
    display_name: str = ""


class UserSeed(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    display_name: str = ""


class EmulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 9443
    data_dir: Path = Path(".data/emulator")
    # Snapshot file; empty means <data_dir>/state.json. no_snapshot keeps everything in memory only.
    snapshot: Path | None = None
    no_snapshot: bool = False
    snapshot_debounce_seconds: float = 0.5
    log_level: str = "warning"

    tenant_id: str = "9188040d-6c67-4c5b-b112-36a304b66dad"
    apps: list[AppRegistration] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)

    # Identity
    access_token_lifetime_min: int = 3600
    access_token_lifetime_max: int = 5400
    refresh_token_inactivity_seconds: int = 90 * 24 * 3600
    auth_code_lifetime_seconds: int = 600

    # Throttling (per app and mailbox, like Outlook)
    throttle_max_concurrent: int = 4
    throttle_budget: int = 10_000
    throttle_window_seconds: float = 600.0

    # Subscriptions
    subscription_min_minutes: int = 45
    subscription_max_minutes: int = 10_080
    validation_timeout_seconds: float = 10.0
    # reauthorizationRequired is sent this long before the subscription's authorization runs out.
    reauthorization_lead_seconds: float = 600.0
    # An unreauthorized subscription holds notifications this long, then drops them (with `missed`).
    paused_loss_seconds: float = 4 * 3600.0
    sweep_interval_seconds: float = 1.0
    # Graph: subscription writes 500 and listings 25 per 20 s per app (and tenant).
    subscription_write_budget: int = 500
    subscription_list_budget: int = 25
    subscription_limit_window_seconds: float = 20.0

    # Change notification delivery
    notification_batch_max: int = 100
    notification_coalesce_ms: float = 50.0
    notification_timeout_seconds: float = 3.0
    notification_retry_base_seconds: float = 1.0
    notification_retry_max_seconds: float = 60.0
    notification_max_attempts: int = 8
    # At-least-once like Graph: how many `updated` notifications follow each `created`.
    extra_updated_notifications: int = 1
    # Verify TLS of https notification URLs (off only for local self-signed receivers).
    notification_verify_tls: bool = True
    # A reused (already rotated) refresh token fails with invalid_grant 70008 unless this is true.
    refresh_token_reuse_allowed: bool = False

    # Delta: a delta/skip token older than this answers 410 Gone (syncStateNotFound).
    delta_token_lifetime_seconds: float = 7 * 24 * 3600.0

    def snapshot_path(self) -> Path | None:
        if self.no_snapshot:
            return None
        return self.snapshot if self.snapshot is not None else self.data_dir / "state.json"
