"""How the worker and the API reach Temporal: Temporal's environment configuration (`temporalio.envconfig`).

It is what the `temporal` CLI and every SDK read, so the same worker and API run unchanged against the
local dev server, a self-hosted cluster behind TLS (with client certificates) or Temporal Cloud:

- `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE` (also the settings' `temporal_address`, `temporal_namespace`);
- `TEMPORAL_API_KEY` (turns TLS on), `TEMPORAL_TLS` (true/false), `TEMPORAL_TLS_CLIENT_CERT_PATH`,
  `TEMPORAL_TLS_CLIENT_KEY_PATH`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_SERVER_NAME` (and the
  `..._DATA` forms with the PEM itself), `TEMPORAL_GRPC_META_<NAME>`;
- or a profile (`TEMPORAL_PROFILE`, default "default") of a TOML file (`TEMPORAL_CONFIG_FILE`, default
  ~/.config/temporalio/temporal.toml): `[profile.<name>]` with address, namespace, api_key and a `tls`
  table (client_cert_path, client_key_path, server_ca_cert_path, server_name, disabled).

Precedence, for each value, highest first:

1. set in code: `Settings(temporal_address=..., temporal_namespace=...)` (tests, `make run`'s supervisor);
2. the process environment;
3. the `.env` file in the working directory (the one the settings read);
4. the TOML profile;
5. the settings' defaults: 127.0.0.1:7233, namespace "default", no TLS.

That is envconfig's own order (environment over file) with `.env` counting as environment, as it does
for every other setting. A variable set to the empty string counts as unset, as everywhere in .env.example.
Mistakes fail at start with a message naming the variable or file, never a secret: a
`TEMPORAL_CONFIG_FILE` that does not exist (envconfig alone would ignore it), a TOML error, a missing
profile, an unreadable certificate or key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig

from config.settings import Settings

PREFIX = "TEMPORAL_"
# The file config.settings.Settings reads (model_config env_file), relative to the working directory.
DOTENV = Path(".env")
# What envconfig reads besides TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE: how a client authenticates and
# where its profile is. A process that must use the local dev server whatever the operator's shell says
# (`make run`'s children) drops these (`client_auth_variables`).
_AUTH_NAMES = ("TEMPORAL_API_KEY", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE")
_AUTH_PREFIXES = ("TEMPORAL_TLS", "TEMPORAL_GRPC_META_")


class TemporalConfigError(ValueError):
    """The Temporal client configuration cannot be used. The message names the variable or file."""


def client_auth_variables(environ: Mapping[str, str]) -> list[str]:
    """The names in `environ` that envconfig reads for TLS, API keys, gRPC metadata or a profile."""
    return [name for name in environ if name in _AUTH_NAMES or name.startswith(_AUTH_PREFIXES)]


def client_environment(
    environ: Mapping[str, str] | None = None, env_file: Path | None = DOTENV
) -> dict[str, str]:
    """The TEMPORAL_* variables for envconfig: the environment over the .env file, empty ones left out."""
    values: dict[str, str | None] = {}
    if env_file is not None and env_file.is_file():
        values.update(dotenv_values(env_file))
    values.update(os.environ if environ is None else environ)
    return {name: value for name, value in values.items() if name.startswith(PREFIX) and value}


def load_profile(environ: Mapping[str, str]) -> ClientConnectConfig:
    """envconfig's profile for these variables, as keyword arguments of `Client.connect`. Reads the TOML
    file and the certificate and key files it or the variables name."""
    config_file = environ.get("TEMPORAL_CONFIG_FILE")
    if config_file and not Path(config_file).exists():
        raise TemporalConfigError(f"TEMPORAL_CONFIG_FILE={config_file}: no such file")
    try:
        return ClientConfigProfile.load(override_env_vars=dict(environ)).to_client_connect_config()
    except RuntimeError as exc:  # temporalio's ConfigError
        # Only its first line: the next ones quote the TOML around a syntax error, an api_key maybe.
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise TemporalConfigError(f"Temporal client configuration: {first_line}") from None
    except OSError as exc:  # a certificate or key file named by the profile or a variable
        raise TemporalConfigError(
            f"Temporal client configuration: {exc.filename}: {exc.strerror or type(exc).__name__}"
        ) from None


def temporal_connect_config(
    settings: Settings, *, environ: Mapping[str, str] | None = None, env_file: Path | None = DOTENV
) -> ClientConnectConfig:
    """Keyword arguments for `Client.connect` (target_host, namespace, and api_key, tls, rpc_metadata
    when configured), in the precedence of the module's docstring. `environ` defaults to os.environ."""
    config = load_profile(client_environment(environ, env_file))
    config["target_host"] = _choose(settings, "temporal_address", config.get("target_host"))
    config["namespace"] = _choose(settings, "temporal_namespace", config.get("namespace"))
    return config


def _choose(settings: Settings, field: str, from_profile: str | None) -> str:
    """The settings' value when it was set (in code, the environment or .env: for the last two the very
    value envconfig read), else the profile's, else the settings' default."""
    value = str(getattr(settings, field))
    if value and field in settings.model_fields_set:
        return value
    if from_profile:
        return from_profile
    return value or str(Settings.model_fields[field].default)
