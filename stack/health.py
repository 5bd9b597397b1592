"""Health checks: each is one attempt that raises until the part is healthy."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from stack.child import Child
from stack.procgroup import describe_exit


class PartFailed(RuntimeError):
    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part}: {reason}")
        self.part = part
        self.reason = reason


def trust(ca_file: Path) -> ssl.SSLContext:
    """TLS verification against one local CA (the emulator's)."""
    return ssl.create_default_context(cafile=str(ca_file))


async def http_ok(url: str, verify: Path | bool = True, seconds: float = 3.0) -> httpx.Response:
    verify_arg: ssl.SSLContext | bool = trust(verify) if isinstance(verify, Path) else verify
    async with httpx.AsyncClient(verify=verify_arg, timeout=seconds) as client:
        response = await client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} -> {response.status_code}: {response.text[:200]}")
    return response


async def worker_polling(address: str, namespace: str, task_queue: str, since: float, pid: int) -> None:
    """Healthy when this worker process polls the task queue. A dead worker's poller stays listed for a
    while, so only a poller with this pid in its identity (the SDK default is pid@host) or one seen
    after this process started counts."""
    client = await Client.connect(address, namespace=namespace)
    # A worker with only activities (or only workflows) polls just one of the two queue types.
    for queue_type in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=queue_type
            )
        )
        for poller in response.pollers:
            if poller.identity.startswith(f"{pid}@") or poller.last_access_time.ToSeconds() >= since:
                return
    raise RuntimeError(f"no poller from this worker on task queue {task_queue!r} yet")


async def wait_healthy(
    child: Child, check: Callable[[Child], Awaitable[object]], limit: float, interval: float = 0.2
) -> None:
    """Retries check until it passes; fails early when the process exits, or after timeout."""
    deadline = time.monotonic() + limit
    last_error: BaseException | None = None
    while True:
        if child.returncode is not None:
            raise PartFailed(child.name, f"{describe_exit(child.returncode)} before it was healthy")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PartFailed(child.name, f"not healthy after {limit:.0f} s: {last_error}")
        try:
            await asyncio.wait_for(check(child), timeout=min(remaining, 30.0))
            return
        except Exception as exc:
            last_error = exc
        await asyncio.sleep(interval)
