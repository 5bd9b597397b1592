"""Temporal's environment configuration reaches the worker's and the API's client connection
(config/temporal.py): TLS with a client certificate, an API key, address and namespace from TEMPORAL_*
variables or from a TOML profile; the precedence; mistakes refused at start naming what is wrong.

No TLS server is reached: the worker's Client.connect is recorded, the API's client is lazy.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.service import TLSConfig

import worker
from api.state import temporal_client
from config.settings import Settings
from config.temporal import TemporalConfigError, temporal_connect_config
from stack.config import child_env
from tests.support.codec_keys import TEST_CODEC, TEST_KEYRING


@pytest.fixture(autouse=True)
def no_outer_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no TEMPORAL_* of the outer environment, no .env, no default TOML file."""
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    # Where envconfig looks for its default file (~/.config/temporalio/temporal.toml).
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.chdir(tmp_path)


class CertFiles:
    """A throwaway CA and a client certificate and key it signed, as PEM files."""

    def __init__(self, directory: Path, name: str = "client") -> None:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throwaway test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_path = directory / f"{name}-ca.pem"
        self.cert_path = directory / f"{name}.pem"
        self.key_path = directory / f"{name}-key.pem"
        self.ca_path.write_bytes(self.ca_pem)
        self.cert_path.write_bytes(self.cert_pem)
        self.key_path.write_bytes(self.key_pem)


async def worker_connect_arguments(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What worker.connect passes to Client.connect (the keyring as if read from Vault)."""
    seen: dict[str, Any] = {}

    class RecordingClient:
        @staticmethod
        async def connect(**kwargs: Any) -> object:
            seen.update(kwargs)
            return object()

    async def fake_load_keyring(*_args: Any, **_kwargs: Any) -> Any:
        return TEST_KEYRING

    with monkeypatch.context() as patched:
        patched.setattr(worker, "Client", RecordingClient)
        patched.setattr(worker, "load_keyring", fake_load_keyring)
        async with AsyncExitStack() as resources:
            await worker.connect(settings, resources)
    return seen


def assert_client_tls(tls: object, certs: CertFiles, server_name: str | None) -> None:
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == certs.cert_pem
    assert tls.client_private_key == certs.key_pem
    assert tls.server_root_ca_cert == certs.ca_pem
    assert tls.domain == server_name


async def test_environment_variables_reach_the_worker_and_api_clients(tmp_path, monkeypatch):
    certs = CertFiles(tmp_path / "certs")
    for name, value in {
        "TEMPORAL_ADDRESS": "temporal.example.internal:7233",
        "TEMPORAL_NAMESPACE": "outlook-prod",
        "TEMPORAL_API_KEY": "test-api-key-not-secret",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certs.cert_path),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.key_path),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca_path),
        "TEMPORAL_TLS_SERVER_NAME": "temporal.example.internal",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)

    config = temporal_connect_config(settings)
    assert config["target_host"] == "temporal.example.internal:7233"
    assert config["namespace"] == "outlook-prod"
    assert config["api_key"] == "test-api-key-not-secret"
    assert_client_tls(config["tls"], certs, "temporal.example.internal")

    # The worker's connection: exactly these, with the payload codec.
    arguments = await worker_connect_arguments(settings, monkeypatch)
    assert {k: v for k, v in arguments.items() if k != "data_converter"} == config
    assert arguments["data_converter"].payload_codec.keyring == TEST_KEYRING

    # The API's (lazy) client carries them in its connection config.
    client = await temporal_client(settings, TEST_CODEC)
    assert client.namespace == "outlook-prod"
    assert client.service_client.config.target_host == "temporal.example.internal:7233"
    assert client.service_client.config.api_key == "test-api-key-not-secret"
    assert_client_tls(client.service_client.config.tls, certs, "temporal.example.internal")


async def test_a_toml_profile_reaches_the_clients(tmp_path, monkeypatch):
    certs = CertFiles(tmp_path / "certs")
    config_file = tmp_path / "temporal.toml"
    config_file.write_text(
        f"""
[profile.default]
address = "127.0.0.1:7233"

[profile.self-hosted]
address = "temporal.corp.example:7233"
namespace = "outlook"
[profile.self-hosted.tls]
client_cert_path = "{certs.cert_path}"
client_key_path = "{certs.key_path}"
server_ca_cert_path = "{certs.ca_path}"
server_name = "temporal.corp.example"

[profile.cloud]
address = "us-east-1.aws.api.temporal.io:7233"
namespace = "outlook.a1b2c"
api_key = "cloud-api-key-not-secret"
"""
    )
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config_file))

    monkeypatch.setenv("TEMPORAL_PROFILE", "self-hosted")
    settings = Settings(_env_file=None)
    config = temporal_connect_config(settings)
    assert config["target_host"] == "temporal.corp.example:7233"
    assert config["namespace"] == "outlook"
    assert "api_key" not in config
    assert_client_tls(config["tls"], certs, "temporal.corp.example")
    arguments = await worker_connect_arguments(settings, monkeypatch)
    assert {k: v for k, v in arguments.items() if k != "data_converter"} == config

    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    client = await temporal_client(Settings(_env_file=None), TEST_CODEC)
    assert client.namespace == "outlook.a1b2c"
    assert client.service_client.config.target_host == "us-east-1.aws.api.temporal.io:7233"
    assert client.service_client.config.api_key == "cloud-api-key-not-secret"
    assert client.service_client.config.tls is True  # an API key turns TLS on (system CAs)


def test_without_configuration_the_local_dev_server(monkeypatch):
    config = temporal_connect_config(Settings(_env_file=None))
    assert config == {"target_host": "127.0.0.1:7233", "namespace": "default"}


def test_precedence_code_then_environment_then_dotenv_then_profile_then_default(tmp_path, monkeypatch):
    config_file = tmp_path / "temporal.toml"
    config_file.write_text('[profile.default]\naddress = "from-profile:7233"\nnamespace = "profile-ns"\n')
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config_file))

    # The profile over the settings' defaults.
    config = temporal_connect_config(Settings(_env_file=None))
    assert (config["target_host"], config["namespace"]) == ("from-profile:7233", "profile-ns")

    # .env over the profile (for the settings and for envconfig's own variables alike).
    Path(".env").write_text("TEMPORAL_ADDRESS=from-dotenv:7233\nTEMPORAL_API_KEY=from-dotenv\n")
    config = temporal_connect_config(Settings())
    assert (config["target_host"], config["namespace"]) == ("from-dotenv:7233", "profile-ns")
    assert config["api_key"] == "from-dotenv"

    # The environment over .env.
    monkeypatch.setenv("TEMPORAL_ADDRESS", "from-env:7233")
    monkeypatch.setenv("TEMPORAL_API_KEY", "from-env")
    config = temporal_connect_config(Settings())
    assert (config["target_host"], config["api_key"]) == ("from-env:7233", "from-env")

    # A value set in code over everything (tests, `make run`'s supervisor).
    config = temporal_connect_config(
        Settings(temporal_address="from-code:7233", temporal_namespace="code-ns")
    )
    assert (config["target_host"], config["namespace"]) == ("from-code:7233", "code-ns")

    # An empty variable counts as unset (the convention of .env.example).
    monkeypatch.setenv("TEMPORAL_API_KEY", "")
    Path(".env").write_text("TEMPORAL_API_KEY=\nTEMPORAL_TLS_CLIENT_CERT_PATH=\n")
    config = temporal_connect_config(Settings())
    assert "api_key" not in config and "tls" not in config


@pytest.mark.parametrize(
    ("write", "env", "expected"),
    [
        (None, {"TEMPORAL_CONFIG_FILE": "no-such-file.toml"}, "TEMPORAL_CONFIG_FILE=no-such-file.toml"),
        ('[profile.default]\naddress = "a:1"\n', {"TEMPORAL_PROFILE": "prod"}, "Profile 'prod' not found"),
        (None, {"TEMPORAL_TLS_CLIENT_CERT_PATH": "missing.pem"}, "missing.pem"),
        ('[profile.default]\napi_key = "key-in-a-broken-file"\naddress = \n', {}, "TOML parse error"),
    ],
    ids=["config-file-missing", "profile-missing", "certificate-missing", "toml-broken"],
)
def test_mistakes_are_refused_naming_what_is_wrong(tmp_path, monkeypatch, write, env, expected):
    if write is not None:
        (tmp_path / "temporal.toml").write_text(write)
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "temporal.toml"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TemporalConfigError) as caught:
        temporal_connect_config(Settings(_env_file=None))
    assert expected in str(caught.value)
    assert "key-in-a-broken-file" not in str(caught.value)


async def test_the_worker_stops_at_once_on_a_configuration_mistake(monkeypatch):
    """Not retried like an unreachable server: the configuration will not get better by waiting."""
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", "no-such-file.toml")
    with pytest.raises(TemporalConfigError):
        await asyncio.wait_for(
            worker._connect_until_stopped(Settings(_env_file=None), asyncio.Event(), AsyncExitStack()), 5
        )


def test_make_run_children_use_the_local_dev_server_whatever_the_operator_configured(tmp_path, monkeypatch):
    certs = CertFiles(tmp_path / "certs")
    monkeypatch.setenv("TEMPORAL_API_KEY", "operators-cloud-key")
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(certs.cert_path))
    monkeypatch.setenv("TEMPORAL_GRPC_META_X_TENANT", "someone")
    Path(".env").write_text(f"TEMPORAL_TLS_CLIENT_KEY_PATH={certs.key_path}\nTEMPORAL_TLS=true\n")
    stack_settings = Settings(_env_file=None, temporal_address="127.0.0.1:17233", data_dir=tmp_path)
    env = child_env(stack_settings, "role", "secret")
    assert temporal_connect_config(Settings(_env_file=None), environ=env) == {
        "target_host": "127.0.0.1:17233",
        "namespace": "default",
    }
