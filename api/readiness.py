"""GET /readyz checks: each part answers within a short time limit, or says briefly why not.

Reasons are written here, never copied from an exception: error texts can carry URLs, response bodies
or credentials.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import hvac
import requests
from sqlalchemy import Engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from activities.health import check_approle_login
from config.settings import Settings
from vault import VaultLoginFailed, VaultStoreError, VaultUnavailable

log = logging.getLogger(__name__)

OK = "ok"


class NotReady(Exception):
    """A check failed; the message is the short, secret-free reason shown in /readyz."""


class ReadinessChecks:
    def __init__(
        self, settings: Settings, temporal: Client, ms_http: httpx.AsyncClient, engine: Engine
    ) -> None:
        self._settings = settings
        self._temporal = temporal
        self._ms_http = ms_http
        self._engine = engine
        self._timeout = settings.readiness_timeout_seconds

    async def run(self) -> dict[str, str]:
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "temporal": self.temporal,
            "worker": self.worker,
            "vault": self.vault,
            "microsoft": self.microsoft,
            "database": self.database,
        }
        results = await asyncio.gather(*(self._guarded(name, check) for name, check in checks.items()))
        return dict(zip(checks, results, strict=True))

    async def _guarded(self, name: str, check: Callable[[], Awaitable[None]]) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await check()
        except NotReady as exc:
            return str(exc)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except Exception as exc:
            # Unexpected: log the kind for operators, show only the kind to callers.
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            return f"failed ({type(exc).__name__})"
        return OK

    async def temporal(self) -> None:
        # The client's own address and namespace: a Temporal profile may have set them (config/temporal.py).
        namespace = self._temporal.namespace
        try:
            await self._temporal.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=self._timeout)
            )
        except RPCError as exc:
            raise NotReady(f"namespace {namespace}: {exc.status.name}") from None
        except RuntimeError:  # the lazy client's connect failed
            raise NotReady(f"unreachable at {self._temporal.service_client.config.target_host}") from None

    async def worker(self) -> None:
        # Until workflows are registered a worker polls only activity tasks, so either kind counts.
        queue = self._settings.temporal_task_queue
        try:
            for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
                response = await self._temporal.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self._temporal.namespace,
                        task_queue=TaskQueue(name=queue),
                        task_queue_type=kind,
                    ),
                    timeout=timedelta(seconds=self._timeout),
                )
                if response.pollers:
                    return
        except RPCError as exc:
            raise NotReady(f"task queue {queue}: {exc.status.name}") from None
        except RuntimeError:
            raise NotReady("temporal unreachable") from None
        raise NotReady(f"no worker polls task queue {queue}")

    async def vault(self) -> None:
        await asyncio.to_thread(self._vault_health_sync)
        try:
            await check_approle_login(self._settings, http_timeout=self._timeout)
        except VaultLoginFailed:
            raise NotReady("AppRole login refused") from None
        except VaultUnavailable:
            raise NotReady("unavailable during AppRole login") from None
        except VaultStoreError:
            raise NotReady("AppRole token check refused") from None

    def _vault_health_sync(self) -> None:
        verify = str(self._settings.vault_ca_bundle) if self._settings.vault_ca_bundle else True
        client = hvac.Client(url=self._settings.vault_addr, verify=verify, timeout=self._timeout)
        try:
            # standbyok: a standby node forwards requests, so it serves us too.
            answer = client.sys.read_health_status(method="GET", standby_ok=True)
        except requests.exceptions.RequestException:
            raise NotReady(f"unreachable at {self._settings.vault_addr}") from None
        finally:
            client.adapter.close()
        # hvac returns the JSON on 200 and the raw response otherwise (501 uninitialised, 503 sealed).
        body = answer if isinstance(answer, dict) else _json_or_empty(answer)
        if not body:
            raise NotReady(f"sys/health answered HTTP {getattr(answer, 'status_code', '?')}")
        if not body.get("initialized"):
            raise NotReady("not initialised")
        if body.get("sealed"):
            raise NotReady("sealed")

    async def microsoft(self) -> None:
        url = f"{self._settings.ms_authority.rstrip('/')}/v2.0/.well-known/openid-configuration"
        try:
            response = await self._ms_http.get(url, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise NotReady(f"authority unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise NotReady(f"openid-configuration answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise NotReady("openid-configuration is not JSON") from None
        if not isinstance(document, dict) or "token_endpoint" not in document:
            raise NotReady("openid-configuration has no token_endpoint")

    async def database(self) -> None:
        await asyncio.to_thread(self._select_one)

    def _select_one(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise NotReady(f"unavailable ({type(exc).__name__})") from None


def _json_or_empty(response: object) -> dict[str, object]:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}
