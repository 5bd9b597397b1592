"""A person in a browser (headless Chromium from Debian, driven by Playwright): sign in, connect a
mailbox on the emulator's consent page, see it active, revoked with the reason, reconnect, disconnect."""

from __future__ import annotations

import shutil
import uuid

from playwright.async_api import Page, async_playwright

from tests.e2e.conftest import Stack
from tests.e2e.helpers import new_mailbox, revoke, vault_paths, wait_status
from tests.support.appdb import add_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def consent_as(page: Page, email: str) -> None:
    await page.wait_for_selector("input[name=user]")
    await page.check(f"input[name=user][value='{email}']")
    await page.click("button[value=accept]")


async def test_connect_in_a_browser(stack: Stack) -> None:
    email = await new_mailbox(stack)
    _user_id, token = add_user(stack.engine, account_name=uuid.uuid4().hex[:8])
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        # The emulator's certificate comes from its own CA, which this browser profile does not know.
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        await page.goto(f"{stack.api_url}/signin")
        await page.fill("input[name=token]", token)
        await page.click("button[type=submit]")
        await page.goto(f"{stack.api_url}/connections")
        await page.check("input[value=outgoing]")
        await page.click("#connect")

        # Microsoft's (the emulator's) consent page shows what is asked.
        await page.wait_for_selector("input[name=user]")
        consent_text = await page.content()
        assert "Mail.Read" in consent_text and "Mail.Send" in consent_text
        await consent_as(page, email)
        await page.wait_for_url("**/connections/*")
        connection_id = page.url.rsplit("/", 1)[1]

        await wait_status(stack, token, connection_id, "active")
        await page.reload()
        assert (await page.text_content("#status")) == "active"

        await revoke(stack, email, "mfa_required")
        await wait_status(stack, token, connection_id, "revoked")
        await page.reload()
        assert (await page.text_content("#status")) == "revoked"
        assert "MFA" in (await page.text_content("#reason") or "")

        await page.click("#reconnect")
        await consent_as(page, email)
        await page.wait_for_url(f"**/connections/{connection_id}")
        await wait_status(stack, token, connection_id, "active")

        await page.click("#disconnect")
        # A confirmation page says what is deleted; its button posts the disconnect.
        await page.click("#confirm-disconnect")
        await wait_status(stack, token, connection_id, "disconnected")
        await page.reload()
        assert (await page.text_content("#status")) == "disconnected"
        assert vault_paths(stack, connection_id) == []
        await browser.close()
