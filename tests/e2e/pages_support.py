"""What the page tests in a browser share (tests/e2e/test_pages_journey.py): Debian's Chromium driven by
Playwright, full-page screenshots kept under test-artifacts/screenshots/ at the repo root (ignored by git,
so they outlive pytest's tmp_path), and the checks every page of the app must pass: no Content-Security-
Policy violation, a label on every form control, and (at 375 px) no horizontal overflow."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, ConsoleMessage, Page, ViewportSize, async_playwright

from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
NARROW: ViewportSize = {"width": 375, "height": 800}

# Every form control that a person fills or picks, with the element's start tag if it has no label: a
# <label for>, a wrapping <label> (both are el.labels), or aria-label / aria-labelledby naming text.
UNLABELLED_JS = """
() => {
  const named = (el) => {
    if ([...(el.labels || [])].some((l) => l.textContent.trim())) return true;
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    return ids.some((id) => (document.getElementById(id)?.textContent || '').trim());
  };
  return [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && !named(el))
    .map((el) => el.outerHTML.slice(0, 160));
}
"""

# The page's width against the window's; when it overflows, the innermost elements sticking out (what
# to fix), skipping those inside a box that scrolls or clips them (a .table-wrap).
OVERFLOW_JS = """
() => {
  const width = window.innerWidth;
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth <= width) return null;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== 'visible') return true;
    }
    return false;
  };
  // Sticking out: the element's box, or its content (a long word) past the box's own edge.
  const out = [...document.body.querySelectorAll('*')].filter((el) => !clipped(el) && (
    el.getBoundingClientRect().right > width + 0.5 ||
    (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible' &&
     !el.matches('input, select, textarea, option'))));
  const innermost = out.filter((el) => !out.some((o) => o !== el && el.contains(o)));
  return {
    width, scrollWidth,
    culprits: innermost.slice(0, 8).map((el) =>
      `${el.outerHTML.slice(0, 140)} (right edge ${Math.round(el.getBoundingClientRect().right)})`),
  };
}
"""


@dataclass
class Watched:
    """A browser page whose console is listened to, and where its screenshots go."""

    page: Page
    context: BrowserContext
    shots: Path
    app_url: str
    violations: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def shot(self, name: str) -> Path:
        """A full-page screenshot, numbered in the order taken (Playwright writes it off the loop)."""
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(name)
        return path

    async def unlabelled(self) -> list[str]:
        found: list[str] = await self.page.evaluate(UNLABELLED_JS)
        return found

    async def overflow(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.page.evaluate(OVERFLOW_JS)
        return found

    async def check(self, name: str, *, narrow: bool = False) -> None:
        """The app's page now shown: a screenshot, then every control labelled, no CSP violation and, in
        a narrow window, nothing wider than the window. What is wrong is kept in `problems` (the test
        asserts there are none at its end, so one run lists every page's)."""
        assert self.page.url.startswith(self.app_url), f"{name}: not a page of the app: {self.page.url}"
        await self.shot(name)
        where = f"{name} ({self.page.url.removeprefix(self.app_url)})"
        unlabelled = await self.unlabelled()
        if unlabelled:
            self.problems.append(f"{where}: controls without a label: {unlabelled}")
        if self.violations:
            self.problems.append(f"{where}: CSP violations: {self.violations}")
            self.violations.clear()
        if narrow:
            over = await self.overflow()
            if over is not None:
                self.problems.append(f"{where}: wider than {NARROW['width']} px: {over}")

    async def visit(self, name: str, path: str, *, narrow: bool = False) -> None:
        response = await self.page.goto(self.app_url + path)
        assert response is not None and response.status < 500, f"{name}: {response and response.status}"
        await self.check(name, narrow=narrow)


async def fresh_directory(path: Path) -> Path:
    """An empty directory for this run's screenshots (the last run's are replaced)."""

    def make() -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)

    await asyncio.to_thread(make)
    return path


@contextlib.asynccontextmanager
async def watched_page(
    app_url: str, shots: Path, viewport: ViewportSize | None = None
) -> AsyncIterator[Watched]:
    """A new Chromium page (headless, Debian's binary), its console's CSP reports collected."""
    await fresh_directory(shots)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # The emulator's certificate comes from its own CA, which this browser profile does not know.
            context = await browser.new_context(ignore_https_errors=True, viewport=viewport)
            page = await context.new_page()
            watched = Watched(page, context, shots, app_url)

            def on_console(message: ConsoleMessage) -> None:
                if "Content Security Policy" in message.text:
                    watched.violations.append(f"{page.url}: {message.text}")

            page.on("console", on_console)
            yield watched
        finally:
            await browser.close()


async def sign_in(watched: Watched, token: str) -> None:
    page = watched.page
    await watched.visit("signin", "/signin")
    await page.fill("#token", token)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{watched.app_url}/")


async def reload_until(
    page: Page, ready: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, what: str = ""
) -> Any:
    """Reloads the page until `ready()` says what it waits for is on it (the service works behind)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await ready()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"not on {page.url} within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.5)
        await page.reload()


def id_in_url(url: str, collection: str) -> str:
    """The id in a page's address, e.g. /boards/<id>?done=created -> <id>."""
    match = re.search(rf"/{collection}/([0-9a-f-]{{36}})", url)
    assert match, url
    return match.group(1)
