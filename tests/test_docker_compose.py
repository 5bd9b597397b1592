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


# ----- scaling out: any number of api and worker replicas ------------------------------------------

REPLICAS = re.compile(r"\$\{(?P<name>[A-Z_]+):-(?P<default>\d+)\}")


@pytest.mark.parametrize(("name", "variable"), [("api", "API_REPLICAS"), ("worker", "WORKER_REPLICAS")])
def test_api_and_worker_replicas_are_configurable(name, variable):
    replicas = REPLICAS.fullmatch(str(services()[name]["deploy"]["replicas"]))
    assert replicas, f"{name}: deploy.replicas must be ${{{variable}:-N}}"
    assert replicas["name"] == variable and int(replicas["default"]) >= 1


@pytest.mark.parametrize("name", ["api", "worker"])
def test_nothing_in_a_replicated_service_pins_it_to_one_copy(name):
    service = services()[name]
    # A fixed name or a published host port makes the second replica fail to start.
    assert "container_name" not in service
    assert not service.get("ports"), f"{name} publishes a host port: replicas would clash"
    assert "hostname" not in service


def test_one_proxy_publishes_the_api_and_balances_over_every_replica():
    s = services()
    proxy = s["proxy"]
    assert proxy["ports"] == ["127.0.0.1:8000:8000"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    (mounted,) = proxy["configs"]
    caddyfile = compose()["configs"][mounted["source"]]["content"]
    # Replicas are found by the service's DNS name and looked up again, so a later --scale reaches it.
    assert re.search(r"dynamic a \{\s*name api\s*port 8000\s*refresh \d+s\s*\}", caddyfile), caddyfile
    assert "lb_policy round_robin" in caddyfile
    assert s["api"]["expose"] == ["8000"]
    # The API trusts the proxy's X-Forwarded-* (it has no port outside the compose network).
    assert "--forwarded-allow-ips=*" in s["api"]["command"]


def test_no_two_services_publish_the_same_host_port():
    published = [
        port.rsplit(":", 1)[0] for service in services().values() for port in service.get("ports") or []
    ]
    assert len(published) == len(set(published)), published


def test_what_must_run_once_is_a_one_shot_the_replicas_wait_for():
    s = services()
    # Migrations and the first admin: app-init, never in the API's or the worker's own command.
    assert "db.migrate" in " ".join(s["app-init"]["command"]) and "deploy" not in s["app-init"]
    assert s["app-init"]["restart"] == "no"
    for name in ("api", "worker"):
        assert s[name]["depends_on"]["app-init"]["condition"] == "service_completed_successfully"
        assert "migrate" not in " ".join(s[name]["command"])


def test_temporal_runs_on_postgresql():
    s = services()
    temporal = environment(s["temporal"])
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "temporal-postgresql"
    assert s["temporal-postgresql"]["image"].startswith("postgres:")
    # Every replica reaches the one Temporal service and the one app database.
    for name in ("api", "worker"):
        env = environment(s[name])
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert "@app-db:5432/" in env["DATABASE_URL"]
