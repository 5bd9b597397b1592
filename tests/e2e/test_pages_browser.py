"""The pages in a real browser (Debian's Chromium) under their Content-Security-Policy: no violation on
any page, the connect form posts the chosen scopes with its CSRF token, sign-out works through its
CSRF-protected form, another site cannot frame a page, and a cross-site sign-in post is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI
from playwright.async_api import Route, async_playwright

from accounts.sessions import SESSION_COOKIE
from api.main import create_app
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.support.servers import free_port
from tests.support.serving import serving


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield  # the pages under test need only the database


async def test_pages_under_their_csp_in_a_browser(tmp_path: Path) -> None:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, public_base_url=api_url, api_port=port)
    engine = await asyncio.to_thread(migrated_engine, settings)
    _user_id, token = await asyncio.to_thread(add_user, engine, account_name="pages")
    app = create_app(settings)
    app.router.lifespan_context = _no_lifespan
    app.state.engine = engine
    violations: list[str] = []
    connect_posts: list[tuple[str, str]] = []

    async def catch_connect(route: Route) -> None:
        connect_posts.append((route.request.method, route.request.post_data or ""))
        await route.fulfill(status=200, body="stopped here", content_type="text/plain")

    async with serving(app, port), async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        page = await context.new_page()
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        await page.route("**/connect/outlook*", catch_connect)

        await page.goto(f"{api_url}/signin")
        await page.fill("input[name=token]", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{api_url}/")
        assert "Signed in" in await page.content()
        cookie = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

        await page.goto(f"{api_url}/connections")
        # The stylesheet (a file now) applies: the main column's width comes from /static/app.css.
        assert await page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") != "none"
        await page.check("input[value=outgoing]")
        await page.click("#connect")
        await page.wait_for_load_state()
        assert connect_posts and connect_posts[0][0] == "POST", connect_posts
        posted = parse_qs(connect_posts[0][1])
        assert posted["scope"] == ["incoming", "outgoing"] and posted["csrf_token"], connect_posts

        # Another site framing a page: the browser refuses (frame-ancestors 'none', X-Frame-Options).
        other = await context.new_page()
        await other.set_content(f'<iframe id="f" src="{api_url}/signin"></iframe>')
        await other.wait_for_timeout(500)
        frame = next((f for f in other.frames if f.url.startswith(api_url)), None)
        framed_text = await frame.evaluate("document.body ? document.body.innerText : ''") if frame else ""
        assert "API token" not in framed_text

        # A sign-in form posted from another site (login CSRF) is refused by its Origin.
        await other.set_content(
            f'<form method="post" action="{api_url}/signin"><input name="token" value="{token}"></form>'
        )
        async with other.expect_navigation():
            await other.evaluate("document.forms[0].submit()")
        assert "cross-" in await other.content()

        await page.goto(f"{api_url}/")
        await page.click("text=Sign out")
        await page.wait_for_url(f"{api_url}/")
        assert "Sign in" in await page.content()
        assert not [c for c in await context.cookies() if c["name"] == SESSION_COOKIE]
        await browser.close()
    assert violations == []
    engine.dispose()
