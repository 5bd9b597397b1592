"""docker-compose.yml is checked by reading it (no Docker engine here): images, health checks, env."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRED_SYNTAX = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")


def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def refused_outside_development() -> set[str]:
    """The names Settings refuses to default outside development, as it reports them."""
    with pytest.MonkeyPatch.context() as mp:
        for name in Settings.model_fields:
            mp.delenv(name.upper(), raising=False)
        with pytest.raises(ValidationError) as caught:
            Settings(_env_file=None, environment="production")
    names = set(re.findall(r"([A-Z][A-Z0-9_]+) is (?:missing|a default)", str(caught.value)))
    assert names, "Settings refused nothing outside development?"
    return names


def test_every_service_has_an_image_or_a_build():
    for name, service in services().items():
        assert "image" in service or "build" in service, name


def test_services_that_serve_have_a_healthcheck():
    serving = {name for name, s in services().items() if s.get("ports") or s.get("expose")}
    assert {"temporal", "temporal-ui", "vault", "app-db", "temporal-postgresql", "api", "emulator"} <= serving
    for name in serving:
        check = services()[name].get("healthcheck")
        assert check and check.get("test"), f"{name} serves but has no healthcheck"


def test_the_parts_of_a_production_deployment_are_there():
    s = services()
    assert s["temporal"]["environment"]["DB"] == "postgres12"
    assert s["temporal"]["depends_on"]["temporal-postgresql"]["condition"] == "service_healthy"
    assert "openbao" in s["vault"]["image"] or "vault" in s["vault"]["image"]
    assert s["app-db"]["image"].startswith("postgres")
    assert s["api"]["build"] and s["worker"]["build"]
    assert "worker.py" in " ".join(s["worker"]["command"])
    assert "api.main:app" in " ".join(s["api"]["command"])


@pytest.mark.parametrize("name", ["api", "worker", "app-init"])
def test_app_services_get_every_setting_production_requires(name):
    env = environment(services()[name])
    assert env["ENVIRONMENT"] == "production"
    for field in refused_outside_development():
        assert field in env, f"{name} lacks {field}"
    for secret in ("SESSION_SECRET", "MS_CLIENT_SECRET", "VAULT_ROLE_ID", "VAULT_SECRET_ID"):
        assert REQUIRED_SYNTAX.fullmatch(env[secret]), f"{name}: {secret} must use ${{VAR:?message}}"
    assert "${APP_DB_PASSWORD:?" in env["DATABASE_URL"]
    for value in env.values():
        assert "change-me" not in value and "development-" not in value
    # Every variable the service reads is one of its settings (catches typos).
    known = {field.upper() for field in Settings.model_fields}
    assert set(env) <= known, set(env) - known
    for field in ("DATABASE_URL", "TEMPORAL_ADDRESS", "VAULT_ADDR", "PUBLIC_BASE_URL", "MS_CLIENT_ID"):
        assert env[field], field


def test_database_passwords_are_required_too():
    s = services()
    assert REQUIRED_SYNTAX.fullmatch(environment(s["app-db"])["POSTGRES_PASSWORD"])
    assert REQUIRED_SYNTAX.fullmatch(environment(s["temporal-postgresql"])["POSTGRES_PASSWORD"])


def test_emulator_only_in_the_dev_profile():
    for name, service in services().items():
        if name == "emulator":
            assert service.get("profiles") == ["dev"]
        else:
            assert "dev" not in (service.get("profiles") or []), name
            assert "emulator" not in " ".join(map(str, service.get("command") or [])), name


def test_the_image_builds_from_the_lock():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.MULTILINE), "the image must not run as root"
