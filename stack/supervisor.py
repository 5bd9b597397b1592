"""Starts the parts in order, reports each one healthy, restarts any that dies, stops all cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import time

from stack.child import Child
from stack.config import REPO_ROOT, child_env
from stack.console import Console
from stack.health import PartFailed, http_ok, wait_healthy
from stack.parts import DEMO_MAILBOX, Service, Stack, Step
from stack.procgroup import describe_exit, signal_group

# A part that stays up this long has recovered: its next failure starts the backoff afresh.
STABLE_AFTER_SECONDS = 30.0
READY_TIMEOUT_SECONDS = 30.0
_URL = re.compile(r"https?://\S+")
_BOOTSTRAP_STATUS = re.compile(r"\b(created|exists)\b")


class Supervisor:
    def __init__(self, stack: Stack, console: Console) -> None:
        self.stack = stack
        self.console = console
        self.children: dict[str, Child] = {}
        self.keepers: dict[str, asyncio.Task[None]] = {}
        self.stop_requested = asyncio.Event()
        self.stopping = False
        self.sign_in_url: str | None = None
        # None: no API to ask; False: /readyz did not answer 200 in time.
        self.ready: bool | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        started = time.monotonic()
        startup = asyncio.create_task(self._start_all(), name="startup")
        stop_wait = asyncio.create_task(self.stop_requested.wait(), name="stop-wait")
        exit_code = 0
        try:
            await asyncio.wait({startup, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if startup.done() and not self.stop_requested.is_set():
                try:
                    startup.result()
                except PartFailed as exc:
                    self.console.status("FAIL", "stack", f"{exc.part} did not start, stopping everything")
                    exit_code = 1
                except Exception as exc:
                    # e.g. a binary missing from the venv: say what, without a traceback wall.
                    self.console.status("FAIL", "stack", f"{type(exc).__name__}: {exc}")
                    exit_code = 1
                else:
                    self._print_urls(time.monotonic() - started)
                    await stop_wait
        finally:
            startup.cancel()
            stop_wait.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await startup
            await self._stop_all()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return exit_code

    def _on_signal(self, sig: int) -> None:
        if self.stop_requested.is_set():
            # Second Ctrl-C: no more waiting for graceful shutdowns.
            self.console.status("kill", "stack", "second signal: SIGKILL to every part")
            for child in self.children.values():
                signal_group(child.pid, signal.SIGKILL)
            return
        self.console.status("stop", "stack", f"{signal.Signals(sig).name} received, stopping every part")
        self.stop_requested.set()

    async def _start_all(self) -> None:
        for stage in self.stack.stages:
            runnable = []
            for part in stage:
                if part.requires is not None and not part.requires.exists():
                    missing = part.requires.relative_to(REPO_ROOT)
                    self.console.status("skip", part.name, f"{missing} does not exist yet")
                else:
                    runnable.append(part)
            # Every part of the stage finishes starting (or fails) before the first error is raised,
            # so nothing is left half-started when the stack stops.
            results = await asyncio.gather(*(self._start_part(p) for p in runnable), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        await self._check_ready()

    async def _start_part(self, part: Service | Step) -> None:
        if isinstance(part, Step):
            await self._run_step(part)
            return
        child = await self._start_service(part)
        self.keepers[part.name] = asyncio.create_task(self._keep(part, child), name=f"keep-{part.name}")

    async def _stop_all(self) -> None:
        self.stopping = True
        for keeper in self.keepers.values():
            keeper.cancel()
        for keeper in self.keepers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        # Reverse start order: the worker and API finish before Temporal and OpenBao go away.
        order = [part.name for part in self.stack.parts]
        for name in sorted(self.children, key=lambda n: order.index(n) if n in order else -1, reverse=True):
            child = self.children[name]
            was_running = child.returncode is None
            code = await child.stop(self.stack.settings.stop_timeout)
            if was_running:
                # uvicorn re-raises SIGTERM after its graceful shutdown: that is a clean stop too.
                how = "on SIGTERM" if code == -signal.SIGTERM else describe_exit(code)
                self.console.status("stopped", name, how)
        self.children.clear()
        self._write_state()

    # ---- parts -----------------------------------------------------------------------------------

    def _env(self, service_env: bool) -> dict[str, str]:
        if not service_env:
            return dict(os.environ)
        creds = self.stack.credentials
        if creds is None:
            raise PartFailed("openbao", "no AppRole credentials (OpenBao did not start)")
        return child_env(self.stack.service, creds.role_id, creds.secret_id)

    async def _spawn(
        self,
        name: str,
        command: list[str],
        service_env: bool,
        echo: bool = True,
        env: dict[str, str] | None = None,
        json_lines: bool = False,
    ) -> Child:
        child = await Child.spawn(
            name,
            command,
            env={**self._env(service_env), **(env or {})},
            cwd=REPO_ROOT,
            log_path=self.stack.paths.log(name),
            echo=self.console.child_line,
            json_lines=json_lines,
        )
        child.echo_enabled = echo
        self.children[name] = child
        self._write_state()
        return child

    async def _start_service(self, part: Service, restart: bool = False) -> Child:
        previous_creds = self.stack.credentials
        extra_env = part.prepare() if part.prepare is not None else None
        child = await self._spawn(
            part.name, part.command, part.service_env, part.echo, extra_env, part.json_lines
        )
        try:
            await wait_healthy(child, part.check, self.stack.settings.health_timeout)
            if part.after_healthy is not None:
                await part.after_healthy()
        except Exception as exc:
            await child.stop(self.stack.settings.stop_timeout)
            failure = exc if isinstance(exc, PartFailed) else PartFailed(part.name, str(exc))
            self._report_failure(failure, child)
            raise failure from exc
        elapsed = child.uptime()
        what = "restarted" if restart else "ok"
        self.console.status(what, part.name, f"{part.endpoint} ({elapsed:.1f} s, pid {child.pid})")
        if restart and previous_creds is not None and self.stack.credentials != previous_creds:
            self._restart_service_env_children()
        return child

    async def _run_step(self, step: Step) -> None:
        child = await self._spawn(step.name, step.command, step.service_env)
        try:
            code = await asyncio.wait_for(child.wait(), step.timeout)
        except TimeoutError:
            await child.stop(self.stack.settings.stop_timeout)
            failure = PartFailed(step.name, f"did not finish within {step.timeout:.0f} s")
            self._report_failure(failure, child)
            raise failure from None
        if code != 0:
            failure = PartFailed(step.name, f"failed: {describe_exit(code)}")
            self._report_failure(failure, child)
            raise failure
        elapsed = child.uptime()
        detail = "done"
        if step.name == "bootstrap":
            detail = self._read_bootstrap_output(child)
        self.console.status("ok", step.name, f"{detail} ({elapsed:.1f} s)")
        del self.children[step.name]

    def _read_bootstrap_output(self, child: Child) -> str:
        text = "\n".join(child.tail)
        urls = _URL.findall(text)
        if urls:
            self.sign_in_url = urls[-1]
        status = _BOOTSTRAP_STATUS.search(text)
        return f"admin {status.group(1)}" if status else "admin ensured"

    async def _keep(self, part: Service, child: Child) -> None:
        """Waits for the part to die, reports why, and brings it back with a growing backoff."""
        failures = 0
        settings = self.stack.settings
        while True:
            code = await child.wait()
            if self.stopping:
                return
            # What it started goes with it: the workers of a killed `uvicorn --workers` would keep
            # serving on the port, and the restarted API could not bind it.
            signal_group(child.pid, signal.SIGKILL)
            uptime = child.uptime()
            self.console.status(
                "died", part.name, f"{describe_exit(code)} (pid {child.pid}, up {uptime:.1f} s)"
            )
            self._print_tail(child)
            failures = failures + 1 if uptime < STABLE_AFTER_SECONDS else 1
            while True:
                delay = min(
                    settings.restart_backoff_initial * 2 ** (failures - 1), settings.restart_backoff_max
                )
                self.console.status("restart", part.name, f"in {delay:.1f} s")
                await asyncio.sleep(delay)
                try:
                    child = await self._start_service(part, restart=True)
                    break
                except PartFailed:
                    failures += 1

    def _restart_service_env_children(self) -> None:
        # New AppRole credentials: the services still hold the old ones in their environment.
        for part in self.stack.parts:
            if isinstance(part, Service) and part.service_env and part.name in self.children:
                self.console.status("restart", part.name, "Vault credentials changed")
                signal_group(self.children[part.name].pid, signal.SIGTERM)

    async def _check_ready(self) -> None:
        if "api" not in self.children:
            return
        url = f"{self.stack.api_url}/readyz"
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < READY_TIMEOUT_SECONDS:
            try:
                await http_ok(url)
                self.console.status("ok", "ready", f"GET /readyz 200 ({time.monotonic() - started:.1f} s)")
                self.ready = True
                return
            except Exception as exc:
                last = str(exc)
            await asyncio.sleep(1.0)
        self.console.status("warn", "ready", f"/readyz not 200 after {READY_TIMEOUT_SECONDS:.0f} s: {last}")
        self.ready = False

    # ---- output ----------------------------------------------------------------------------------

    def _report_failure(self, failure: PartFailed, child: Child) -> None:
        self.console.status("FAIL", failure.part, failure.reason)
        self._print_tail(child)

    def _print_tail(self, child: Child) -> None:
        if child.tail:
            self.console.note(f"last lines of {child.log_path}:")
            for line in child.tail:
                self.console.note(f"  {line}")

    def _print_urls(self, total: float) -> None:
        stack = self.stack
        if self.ready is False:
            headline = f"all parts started in {total:.1f} s, but the API is not ready (see /readyz above)"
        else:
            headline = f"all parts healthy in {total:.1f} s"
        lines = [headline, f"  Temporal UI  {stack.temporal.ui_url}"]
        if "api" in self.children:
            lines.append(f"  API          {stack.api_url}")
            lines.append(f"  Metrics      {stack.api_url}/metrics  (API)")
        if "worker" in self.children and stack.service.worker_metrics_port:
            port = stack.service.worker_metrics_port
            lines.append(f"  Metrics      http://127.0.0.1:{port}/metrics  (worker, with Temporal SDK's)")
        if self.sign_in_url:
            lines.append(f"  Sign in      {self.sign_in_url}")
        if stack.paths.admin_token.exists():
            lines.append(f"  Admin token  in {stack.paths.admin_token}")
        if "emulator" in self.children:
            lines.append(f"  Emulator     {stack.emulator_url}  (CA: {stack.paths.emulator_ca})")
            lines.append(f"  Mailbox      {DEMO_MAILBOX} in the emulator: pick it on the consent page")
        lines.append(
            f"  OpenBao      {stack.openbao.addr}  (root token in {stack.paths.openbao / 'init.json'})"
        )
        lines.append(f"  Logs         {stack.paths.logs}/")
        lines.append("Press Ctrl-C to stop.")
        for line in lines:
            self.console.note(line)

    def _write_state(self) -> None:
        """Which process is which, for operators and tests (no secrets)."""
        state = {
            "supervisor_pid": os.getpid(),
            "parts": {name: {"pid": child.pid} for name, child in self.children.items()},
        }
        path = self.stack.paths.state_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)
