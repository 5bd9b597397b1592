"""Settings: every field documented in .env.example; outside development, no default or example secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import DEV_CLIENT_SECRET, DEV_SESSION_SECRET, Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_FIELDS = ("SESSION_SECRET", "MS_CLIENT_SECRET", "VAULT_SECRET_ID")
GOOD = {
    "SESSION_SECRET": "9f3c2a71e4b85d06c1a7f2e38b94d5c0",
    "MS_CLIENT_SECRET": "Qx8~real.looking_client_secret_value",
    "VAULT_SECRET_ID": "5b1f6a52-3c2e-4d8f-9a1b-7e6c5d4f3a21",
    "VAULT_ROLE_ID": "0d4b8c3e-1f2a-4b5c-8d9e-a1b2c3d4e5f6",
}
# Where a production deployment points (not secrets, but refused when left at the emulator's).
REAL_MICROSOFT = {
    "PUBLIC_BASE_URL": "https://mail.example.com",
    "MS_AUTHORITY": "https://login.microsoftonline.com/common",
    "MS_GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0",
    "MS_CLIENT_ID": "6731de76-14a6-49ae-97bc-6eba6914391e",
}


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"([A-Z0-9_]+)=(.*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Only what a test sets: no variable from the outer environment, no .env file."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def load(**env: str) -> Settings:
    values: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    return Settings(_env_file=None, **values)


def refusal(**env: str) -> str:
    with pytest.raises(ValidationError) as caught:
        load(**env)
    return str(caught.value)


def test_every_field_is_documented_in_env_example():
    documented = set(env_example())
    assert {name.upper() for name in Settings.model_fields} <= documented
    assert documented <= {name.upper() for name in Settings.model_fields}, "stale names in .env.example"


def test_env_example_values_are_accepted_in_development():
    values = {k: v for k, v in env_example().items() if v != ""}
    settings = load(**values)
    assert settings.is_development


def test_development_needs_no_configuration():
    settings = load()
    assert settings.session_secret.get_secret_value() == DEV_SESSION_SECRET
    assert settings.effective_database_url.startswith("sqlite:///")


def test_production_refuses_missing_secrets():
    message = refusal(ENVIRONMENT="production")
    for name in (*SECRET_FIELDS, "VAULT_ROLE_ID"):
        assert name in message


def test_production_refuses_the_repository_defaults():
    message = refusal(
        ENVIRONMENT="production",
        SESSION_SECRET=DEV_SESSION_SECRET,
        MS_CLIENT_SECRET=DEV_CLIENT_SECRET,
        VAULT_SECRET_ID=GOOD["VAULT_SECRET_ID"],
        VAULT_ROLE_ID=GOOD["VAULT_ROLE_ID"],
    )
    assert "SESSION_SECRET is a default or example value" in message
    assert "MS_CLIENT_SECRET is a default or example value" in message
    assert "VAULT_SECRET_ID" not in message


def test_production_refuses_the_env_example_values():
    example = {k: v for k, v in env_example().items() if v != ""}
    message = refusal(**{**example, "ENVIRONMENT": "production"})
    for name in SECRET_FIELDS:
        assert name in message


@pytest.mark.parametrize("field", SECRET_FIELDS)
@pytest.mark.parametrize(
    "bad", ["short-secret", "change-me-please-0123456789", "an-example-value-0123456789"]
)
def test_production_refuses_each_weak_secret_without_echoing_it(field, bad):
    message = refusal(**{**GOOD, **REAL_MICROSOFT, field: bad, "ENVIRONMENT": "production"})
    assert field in message
    assert bad not in message


def test_production_accepts_real_secrets():
    settings = load(**GOOD, **REAL_MICROSOFT, ENVIRONMENT="production")
    assert not settings.is_development
    assert settings.session_secret.get_secret_value() == GOOD["SESSION_SECRET"]
    # SecretStr keeps them out of reprs and logs.
    for value in GOOD.values():
        if value != GOOD["VAULT_ROLE_ID"]:
            assert value not in repr(settings)


def test_environment_variables_override_defaults(monkeypatch):
    monkeypatch.setenv("API_PORT", "9001")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/app")
    settings = Settings(_env_file=None)
    assert settings.api_port == 9001
    assert settings.effective_database_url == "postgresql://u@db/app"


def test_refusal_of_environment_values_does_not_print_them(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SESSION_SECRET", "tiny-secret")
    monkeypatch.setenv("MS_CLIENT_SECRET", GOOD["MS_CLIENT_SECRET"])
    monkeypatch.setenv("VAULT_SECRET_ID", GOOD["VAULT_SECRET_ID"])
    monkeypatch.setenv("VAULT_ROLE_ID", GOOD["VAULT_ROLE_ID"])
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    message = str(caught.value)
    assert "SESSION_SECRET" in message
    for value in ("tiny-secret", GOOD["MS_CLIENT_SECRET"], GOOD["VAULT_SECRET_ID"]):
        assert value not in message


def test_a_mistyped_environment_is_refused_naming_the_field_and_the_choices():
    message = refusal(ENVIRONMENT="prod")
    assert "environment" in message
    assert "'development', 'staging' or 'production'" in message


@pytest.mark.parametrize("bad", ["htps://mail.example.com", "mail.example.com", "http//127.0.0.1:8000", ""])
def test_a_mistyped_public_base_url_is_refused_naming_the_field(bad):
    message = refusal(PUBLIC_BASE_URL=bad)
    assert "public_base_url" in message
    assert "URL" in message


def test_environment_typo_from_the_environment_stops_the_start(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "Production")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "environment" in str(caught.value)


@pytest.mark.parametrize(
    ("configured", "base"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("https://mail.example.com", "https://mail.example.com"),
        ("https://mail.example.com/outlook/", "https://mail.example.com/outlook"),
        ("https://mail.example.com/outlook", "https://mail.example.com/outlook"),
    ],
)
def test_public_base_url_is_joined_as_before_trailing_slash_or_not(configured, base):
    settings = load(PUBLIC_BASE_URL=configured)
    assert settings.public_base == base
    assert settings.oauth_redirect_uri == f"{base}/oauth/callback"


def production(**overrides: str) -> dict[str, str]:
    return {**GOOD, **REAL_MICROSOFT, "ENVIRONMENT": "production", **overrides}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_the_emulator_defaults_are_refused_naming_each_setting(environment):
    message = refusal(**{**GOOD, "ENVIRONMENT": environment})
    assert "MS_AUTHORITY points at the emulator (127.0.0.1), not at Microsoft" in message
    assert "MS_GRAPH_BASE_URL points at the emulator (127.0.0.1), not at Microsoft" in message
    assert "MS_CLIENT_ID is the emulator's client id" in message
    # http on loopback is what Microsoft itself allows for redirect URIs: not refused.
    assert "PUBLIC_BASE_URL" not in message


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("MS_AUTHORITY", "https://localhost:9443/common"),
        ("MS_AUTHORITY", "https://[::1]:9443/common"),
        ("MS_AUTHORITY", "https://emulator:9443/common"),
        ("MS_GRAPH_BASE_URL", "https://127.0.0.2:9443/v1.0"),
        ("MS_GRAPH_BASE_URL", "https://emulator:9443/v1.0"),
    ],
)
def test_outside_development_any_emulator_url_is_refused(name, url):
    message = refusal(**production(**{name: url}))
    assert f"{name} points at the emulator" in message
    assert message.count("points at the emulator") == 1


@pytest.mark.parametrize("name", ["MS_AUTHORITY", "MS_GRAPH_BASE_URL"])
def test_outside_development_microsoft_urls_must_be_https(name):
    message = refusal(**production(**{name: "http://login.microsoftonline.com/common"}))
    assert f"{name} must be an https URL" in message


@pytest.mark.parametrize("base", ["http://mail.example.com", "http://10.0.0.5:8000", "http://0.0.0.0:8000"])
def test_outside_development_an_http_redirect_uri_on_a_network_host_is_refused(base):
    message = refusal(**production(PUBLIC_BASE_URL=base))
    assert "PUBLIC_BASE_URL must be https for a non-loopback host" in message


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_outside_development_http_on_loopback_is_accepted(base):
    settings = load(**production(PUBLIC_BASE_URL=base))
    assert settings.oauth_redirect_uri.startswith("http://")


def test_development_accepts_the_emulator_and_http():
    settings = load(
        PUBLIC_BASE_URL="http://devbox.internal:8000", MS_AUTHORITY="https://emulator:9443/common"
    )
    assert settings.is_development
