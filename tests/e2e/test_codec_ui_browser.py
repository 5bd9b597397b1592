"""An operator in a browser: the Temporal UI shows a message workflow's input and result decoded through the
API's /codec once the operator is signed in as an admin and the UI's data encoder includes cross-origin
credentials; the cluster-level setting alone (no credentials), a member or nobody sees ciphertext.

Self-contained: its own Temporal dev server with the Web UI (the `make run` command line), the real app
on a free port with a fixed keyring instead of Vault, and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, Response, async_playwright
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.main import create_app
from codec import EncryptionCodec, Keyring, data_converter
from stack.procgroup import stop_popen
from stack.temporal import TemporalDevServer, check_temporal
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.support.servers import free_port
from tests.support.serving import serving

SUBJECT = "Quarterly numbers, strictly confidential " + uuid.uuid4().hex[:6]


@workflow.defn(name="MessageWorkflow")
class StandInMessageWorkflow:
    """Input and result carry email content, as a message workflow's do."""

    @workflow.run
    async def run(self, message: dict[str, str]) -> dict[str, str]:
        return {"outcome": "item created", "item_name": message["subject"]}


@dataclass
class Setup:
    api_url: str
    ui_url: str
    workflow_id: str
    admin_token: str
    member_token: str


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield  # no Vault or Temporal client: the test hands over the engine and the codec itself


@asynccontextmanager
async def _temporal_with_ui(data_dir: Path, ui_port: int, codec_endpoint: str) -> AsyncIterator[str]:
    server = TemporalDevServer(data_dir, port=free_port(), ui_port=ui_port, ui_codec_endpoint=codec_endpoint)
    process = subprocess.Popen(
        server.command(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(60):
            while True:
                try:
                    await check_temporal(server.address)
                    async with httpx.AsyncClient() as http:
                        (await http.get(server.ui_url)).raise_for_status()
                    break
                except Exception:
                    await asyncio.sleep(0.2)
        yield server.address
    finally:
        await asyncio.to_thread(stop_popen, process)  # it waits for the process: off the event loop


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    codec = EncryptionCodec(Keyring.generate())
    api_port, ui_port = free_port(), free_port()
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    settings = make_settings(tmp_path, public_base_url=api_url, api_port=api_port, temporal_ui_url=ui_url)
    # Blocking work off the event loop (the stall check watches it): eight migrations take over 100 ms.
    engine = await asyncio.to_thread(migrated_engine, settings)
    _admin_id, admin_token = await asyncio.to_thread(add_user, engine, account_name="ops", role="admin")
    _member_id, member_token = await asyncio.to_thread(
        add_user, engine, account_name="ops-members", role="member"
    )
    app = create_app(settings)
    app.router.lifespan_context = _no_lifespan
    app.state.engine = engine
    app.state.payload_codec = codec
    async with (
        serving(app, api_port),
        _temporal_with_ui(tmp_path / "temporal", ui_port, f"{api_url}/codec") as address,
    ):
        client = await Client.connect(address, data_converter=data_converter(codec))
        workflow_id = f"message/codec-ui/{uuid.uuid4().hex[:8]}"
        # Unsandboxed: this module imports the browser and the server, which a sandbox would re-import.
        async with Worker(
            client,
            task_queue="codec-ui",
            workflows=[StandInMessageWorkflow],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            await client.execute_workflow(
                StandInMessageWorkflow.run,
                {"subject": SUBJECT, "from": "grace@customer.example"},
                id=workflow_id,
                task_queue="codec-ui",
            )
        yield Setup(api_url, ui_url, workflow_id, admin_token, member_token)
    engine.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@dataclass
class Visit:
    text: str
    # (status, whether the API's session cookie went along) of each call the UI made to /codec/decode
    decode_calls: list[tuple[int, bool]]


@asynccontextmanager
async def _page(browser: Browser) -> AsyncIterator[tuple[Page, list[tuple[int, bool]]]]:
    context = await browser.new_context()
    page = await context.new_page()
    calls: list[tuple[int, bool]] = []

    async def note(response: Response) -> None:
        if "/codec/decode" in response.url:
            headers = await response.request.all_headers()
            calls.append((response.status, "oi_session=" in headers.get("cookie", "")))

    page.on("response", note)
    try:
        yield page, calls
    finally:
        await context.close()


async def _visit(browser: Browser, setup: Setup, token: str | None, *, browser_setting: bool) -> Visit:
    async with _page(browser) as (page, calls):
        if token:
            await page.goto(f"{setup.api_url}/signin")
            await page.fill("input[name=token]", token)
            await page.click("button[type=submit]")
        await page.goto(f"{setup.ui_url}/namespaces/default/workflows")
        if browser_setting:
            # README's steps: the data encoder's browser setting, the API's /codec, include credentials.
            await page.click("[data-testid^=data-encoder-status]")
            await page.click("[data-testid=use-local-endpoint-input]", force=True)
            await page.fill("[data-testid=data-encoder-endpoint-input]", f"{setup.api_url}/codec")
            await page.get_by_text("Include cross-origin credentials").click()
            assert await page.is_checked("#pass-access-credentials")
            await page.click("[data-testid=confirm-modal-button]:visible")
        await page.get_by_role("link", name=setup.workflow_id).click()
        # Either outcome shows: the decoded input, or the UI's banner that the codec did not answer.
        decoded = page.locator("#content").get_by_text(SUBJECT)
        refused = page.locator("#content").get_by_text("Codec Server could not connect")
        await decoded.or_(refused).first.wait_for(timeout=20_000)
        for _ in range(50):  # the call that decided the page was noted once its body was read
            if calls:
                break
            await asyncio.sleep(0.1)
        return Visit(await page.inner_text("body"), calls)


async def test_temporal_ui_decodes_for_a_signed_in_admin_only(setup: Setup, browser: Browser) -> None:
    admin = await _visit(browser, setup, setup.admin_token, browser_setting=True)
    assert SUBJECT in admin.text and "item created" in admin.text
    assert admin.decode_calls and all(call == (200, True) for call in admin.decode_calls)

    # `make run`'s cluster-level endpoint alone: the UI sends no cookie, the API refuses, nothing shows.
    cluster_only = await _visit(browser, setup, setup.admin_token, browser_setting=False)
    assert SUBJECT not in cluster_only.text
    assert cluster_only.decode_calls and all(call == (401, False) for call in cluster_only.decode_calls)

    member = await _visit(browser, setup, setup.member_token, browser_setting=True)
    assert SUBJECT not in member.text
    assert member.decode_calls and all(call == (403, True) for call in member.decode_calls)

    nobody = await _visit(browser, setup, None, browser_setting=True)
    assert SUBJECT not in nobody.text
    assert nobody.decode_calls and all(call == (401, False) for call in nobody.decode_calls)
