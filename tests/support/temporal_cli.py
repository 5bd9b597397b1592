"""The `temporal` CLI against a test server, as an operator would run it (no codec, no profile)."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from stack.temporal import temporal_binary


async def temporal_cli(env: WorkflowEnvironment, *args: str) -> str:
    target = env.client.service_client.config.target_host
    process = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        "--address",
        target,
        "--namespace",
        env.client.namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # No ambient codec endpoint or profile: the CLI shows what it gets from the server.
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode()
