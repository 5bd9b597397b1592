"""Issue 13's "Tested in a browser", on the whole stack (API, worker, Temporal, OpenBao, the emulator) in
Debian's Chromium driven by Playwright.

1. The journey a new user makes, entirely through the pages: sign in; make a board and its columns; connect
   a mailbox (incoming and outgoing) on the emulator's consent page; build both recipes of the recipes
   issue in the form (an email from *@customer.example about an invoice -> an item with Email <-
   {from.address}; Status -> Done -> an email to {column:Email}); the customer sends such an email; the
   item appears on the board page, the activity page says processed, which recipe matched and links the
   message's workflow in the Temporal UI; Done chosen on the board page sends exactly one email. The
   customer's email is written on the emulator's mail page, as README's walk-through does; besides the
   pages, only the emulator's control API is called (to make the mailboxes and to read the mail sent).
2. Every page of the app in a 375 px wide window: nothing wider than the window, on a board with items
   and long values, the activity page with rows and its chart, the recipe pages, the connection's pages,
   sign-in, home and error pages (state made quickly through the API).

Every page of both (signed out too) must also have a label on each input, select and textarea, and the
browser must report no Content-Security-Policy violation.

Screenshots: full-page PNGs of every page visited, numbered in order, in test-artifacts/screenshots/journey/
and test-artifacts/screenshots/narrow-375/ at the repo root (ignored by git; each run replaces them).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, connect, emulator_list, eventually, new_mailbox, wait_status
from tests.e2e.pages_support import (
    NARROW,
    SCREENSHOTS,
    Watched,
    id_in_url,
    reload_until,
    sign_in,
    watched_page,
)
from tests.e2e.test_browser import consent_as
from tests.e2e.test_messages import deliver, outcomes
from tests.e2e.test_recipes_done_when import emulated_customer, mailbox_messages
from tests.support.appdb import add_user
from workflows.ids import message_workflow_id

pytestmark = pytest.mark.usefixtures("faults_cleared")

SUBJECT = "Invoice 8812 question"


async def sent_by(stack: Stack, mailbox: str) -> list[dict[str, Any]]:
    """What the mailbox sent through Graph (sendMail and replies), as the emulator logged it."""
    return await emulator_list(stack, f"/_emulator/users/{mailbox}/sent")


async def make_board(w: Watched) -> str:
    """A Billing board made on /boards, its Email and Status columns added on its page: its id."""
    page = w.page
    await w.visit("boards", "/boards")
    await page.fill("#board-name", "Billing")
    await page.fill("#board-groups", "New\nPaid")
    await page.click("#create-board button[type=submit]")
    await page.wait_for_url("**/boards/*")
    board_id = id_in_url(page.url, "boards")
    await w.check("board-new")
    for title, column_type, labels in (("Email", "email", ""), ("Status", "status", "Working on it\nDone")):
        await page.fill("#column-title", title)
        await page.select_option("#column-type", column_type)
        await page.fill("#column-labels", labels)
        async with page.expect_navigation():
            await page.click("#add-column button[type=submit]")
        assert await page.text_content("#notice") == "Column added.", await page.text_content("main")
    assert await page.locator("legend", has_text="Labels of the status column Status").count() == 1
    await w.check("board-columns")
    return board_id


async def connect_mailbox(w: Watched, stack: Stack, mailbox: str) -> str:
    """Connect Outlook with incoming and outgoing ticked, on the emulator's consent page: the id."""
    page = w.page
    await w.visit("connections", "/connections")
    await page.check("#scope-incoming")
    await page.check("#scope-outgoing")
    await page.click("#connect")
    await page.wait_for_selector("input[name=user]")
    consent_text = await page.content()
    assert "Mail.Read" in consent_text and "Mail.Send" in consent_text
    await w.shot("consent")  # the emulator's page (Microsoft's in production): not checked as ours
    await consent_as(page, mailbox)
    await page.wait_for_url("**/connections/*")
    connection_id = id_in_url(page.url, "connections")

    async def active() -> bool:
        return (await page.text_content("#status")) == "active"

    await reload_until(page, active, what="the connection active")
    await w.check("connection")
    return connection_id


# The recipe form's inputs that are a <select> (chosen by option value); the others are typed into.
SELECTS = {"#f-board"}


async def create_in_recipe_form(
    w: Watched, kind: str, connection_id: str, fields: list[tuple[str, str]], *, shot: str
) -> None:
    """On /recipes/new: the kind and mailbox chosen, that kind's form filled in field by field, the page
    checked as `shot`, saved, and the new recipe's page reached."""
    page = w.page
    await page.select_option("#kind-choice", kind)
    await page.select_option("#connection-choice", connection_id)
    async with page.expect_navigation():
        await page.click("#next")
    for selector, value in fields:
        if selector in SELECTS:
            await page.select_option(selector, value)
        else:
            await page.fill(selector, value)
    await w.check(shot)
    await page.click("#save")
    await page.wait_for_url(lambda url: "done=created" in url)


async def make_recipes(w: Watched, connection_id: str, board_id: str) -> None:
    """Both recipes of the recipes issue, built in the form."""
    page = w.page
    await w.visit("recipes-empty", "/recipes")
    await w.visit("recipe-new", "/recipes/new")
    await create_in_recipe_form(
        w,
        "email_item",
        connection_id,
        [
            ("#f-name", "Invoices from customers"),
            ("#f-from", "*@customer.example"),
            ("#f-subject-contains", "invoice"),
            ("#f-board", board_id),
            ("#f-group", "New"),
            ("#f-item-name", "{subject}"),
            ("#f-column-title-1", "Email"),
            ("#f-column-template-1", "{from.address}"),
        ],
        shot="recipe-new-email",
    )
    assert "enabled" in (await page.text_content("#state") or "")
    await w.check("recipe-email")

    await page.goto(f"{w.app_url}/recipes/new")
    await create_in_recipe_form(
        w,
        "column_changed",
        connection_id,
        [
            ("#f-name", "Tell the customer"),
            ("#f-board", board_id),
            ("#f-column", "Status"),
            ("#f-to-value", "Done"),
            ("#f-email-to", "{column:Email}"),
            ("#f-email-subject", "Invoice done: {name}"),
            ("#f-email-body", "Your request '{name}' is {column:Status}."),
        ],
        shot="recipe-new-status",
    )
    await w.check("recipe-status")
    await w.visit("recipes", "/recipes")
    listed = await page.text_content("#recipes") or ""
    assert "Invoices from customers" in listed and "Tell the customer" in listed, listed


async def test_journey_through_the_pages(stack: Stack) -> None:
    mailbox = await new_mailbox(stack)
    customer = await emulated_customer(stack)
    _user_id, token = await asyncio.to_thread(add_user, stack.engine, account_name=uuid.uuid4().hex[:8])
    async with watched_page(stack.api_url, SCREENSHOTS / "journey") as w:
        page = w.page
        await sign_in(w, token)
        await w.check("home")
        board_id = await make_board(w)
        connection_id = await connect_mailbox(w, stack, mailbox)
        await make_recipes(w, connection_id, board_id)

        # The customer writes; the item appears on the board page with the sender in Email.
        # The customer writes, on the emulator's mail page (as README's walk-through does): a form post
        # from the browser, so the page's own origin check and headers are exercised too.
        await page.goto(f"{stack.emulator.base_url}/_emulator/mail")
        await page.fill("#from", f"Grace Hopper <{customer}>")
        await page.select_option("#to_mailbox", mailbox)
        await page.fill("#subject", SUBJECT)
        await page.fill("#body", "Could you check invoice 8812?")
        async with page.expect_navigation():
            await page.click("form[action='/_emulator/mail/send'] button[type=submit]")
        assert "delivered=" in page.url, await page.text_content("body")
        await w.shot("emulator-mailbox")
        delivered = {"id": parse_qs(urlsplit(page.url).query)["delivered"][0]}
        await page.goto(f"{w.app_url}/boards/{board_id}")
        row = page.locator("tr[id^=item-]", has_text=SUBJECT)
        await reload_until(page, row.count, what=f"the item {SUBJECT!r}")
        assert await row.count() == 1
        assert customer in (await row.text_content() or "")
        await w.check("board-item")

        # The activity page: processed, by the email recipe, linked to the message's workflow.
        await page.goto(f"{w.app_url}/connections/{connection_id}/activity")
        activity_row = page.locator("table.activity tbody tr", has_text=delivered["id"])
        await reload_until(page, activity_row.count, what="the message's outcome")
        text = await activity_row.text_content() or ""
        assert "processed" in text and "Invoices from customers" in text, text
        workflow_id = message_workflow_id(connection_id, delivered["id"])
        link = await activity_row.locator("a.workflow").get_attribute("href")
        assert link and link.endswith(f"/workflows/{quote(workflow_id, safe='')}"), link
        await stack.env.client.get_workflow_handle(workflow_id).describe()  # the link's workflow exists
        await w.check("activity")

        # Done, chosen on the board page: exactly one email, to the customer, from the mailbox.
        await page.goto(f"{w.app_url}/boards/{board_id}")
        await row.locator("select[name=value]").select_option("Done")
        await row.locator("button[type=submit]").click()
        await page.wait_for_url(lambda url: "done=changed" in url)
        assert await row.locator("select[name=value]").input_value() == "Done"
        await w.check("board-done")

        async def arrived() -> list[dict[str, Any]]:
            return [m for m in await mailbox_messages(stack, customer) if m["subject"].startswith("Invoice")]

        got = await eventually(arrived, what="the status email in the customer's mailbox")
        await asyncio.sleep(2)  # had it been sent twice, the second would be there by now
        got = await arrived()
        assert [m["subject"] for m in got] == [f"Invoice done: {SUBJECT}"], got
        assert "is Done" in got[0]["body"]["content"], got[0]["body"]
        sends = await sent_by(stack, mailbox)
        assert len(sends) == 1, sends
        assert sends[0]["message"]["message"]["subject"] == f"Invoice done: {SUBJECT}", sends

        # The send is on the activity page too; then the disconnect confirmation (not confirmed).
        await page.goto(f"{w.app_url}/connections/{connection_id}/activity")
        await reload_until(page, page.get_by_text("sent by a board event").count, what="the send")
        await w.check("activity-sent")
        await page.goto(f"{w.app_url}/connections/{connection_id}")
        await page.click("#disconnect")
        await page.wait_for_url("**/disconnect")
        assert "Tell the customer" in (await page.text_content("#recipes") or "")
        await w.check("disconnect")
    assert w.problems == [], "\n".join(w.problems)
    expected = {"signin", "home", "connections", "connection", "consent", "boards", "board-item"}
    expected |= {"recipes", "recipe-new", "recipe-email", "activity", "disconnect"}
    assert expected <= set(w.taken), expected - set(w.taken)


# ----- 2. every page at 375 px -------------------------------------------------------------------------

LONG_WORD = "Supercalifragilisticexpialidocious" * 3
WIDE_BOARD = {
    "name": f"Invoices and questions from the northern region {LONG_WORD}",
    "groups": ["New", f"Waiting-for-the-customer-to-answer-{LONG_WORD}"],
    "columns": [
        {"title": "Email", "type": "email"},
        {"title": "Status", "type": "status", "labels": ["Working on it", "Done", f"Waiting {LONG_WORD}"]},
        {"title": "Notes", "type": "long_text"},
        {"title": "Website", "type": "link"},
        {"title": f"Reference-{LONG_WORD}", "type": "text"},
        {"title": "Amount", "type": "number"},
        {"title": "Due", "type": "date"},
    ],
}
WIDE_VALUES = {
    "Email": "accounts.payable.department.northern.region@subsidiary-with-a-long-name.customer.example",
    "Status": f"Waiting {LONG_WORD}",
    "Notes": f"{'A' * 300}\n\nSecond paragraph: {LONG_WORD} {LONG_WORD}",
    "Website": "https://customer.example/" + "path-segment/" * 20 + "?query=" + "x" * 120,
    f"Reference-{LONG_WORD}": "REF-" + "0123456789" * 15,
    "Amount": "12345678901234.5",
    "Due": "2026-12-31",
}


async def wide_state(stack: Stack) -> dict[str, str]:
    """A user with a mailbox connected both ways, a board of long values with items and an update,
    both kinds of recipe, and activity (one email processed, one skipped): made through the API."""
    mailbox = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser):
        connection_id = await connect(stack, browser, mailbox, scopes="incoming,outgoing")
    await wait_status(stack, token, connection_id, "active")

    async def made(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await api_call(stack, token, method, path, json=body)
        assert r.status_code == 201, r.text
        found: dict[str, Any] = r.json()
        return found

    board_id = (await made("POST", "/api/boards", WIDE_BOARD))["id"]
    item = await made("POST", f"/api/boards/{board_id}/items", {"name": LONG_WORD, "columns": WIDE_VALUES})
    await made("POST", f"/api/items/{item['id']}/updates", {"body": f"<p>{'B' * 250}</p><p>{LONG_WORD}</p>"})
    await made("POST", f"/api/boards/{board_id}/items", {"name": "Short", "group": WIDE_BOARD["groups"][1]})
    incoming = await made(
        "POST",
        "/api/recipes",
        {
            "connection_id": connection_id,
            "name": f"Invoices {LONG_WORD}",
            "trigger": {
                "type": "email_received",
                "folder": "inbox",
                "conditions": {"from": ["*@customer.example"], "subject_contains": ["invoice"]},
            },
            "action": {
                "type": "create_item",
                "board_id": board_id,
                "group": "New",
                "item_name": "{subject}",
                "columns": {"Email": "{from.address}", "Notes": "{body}"},
            },
        },
    )
    outgoing = await made(
        "POST",
        "/api/recipes",
        {
            "connection_id": connection_id,
            "name": "Tell the customer",
            "trigger": {"type": "column_changed", "board_id": board_id, "column": "Status", "to": "Done"},
            "action": {
                "type": "send_email",
                "to": "{column:Email}",
                "subject": "Invoice done: {name}",
                "body": "Your request '{name}' is {column:Status}.",
            },
        },
    )
    sender = {"name": "Grace Hopper", "address": WIDE_VALUES["Email"]}
    await deliver(stack, mailbox, **{"from": sender}, subject=f"Invoice {LONG_WORD}", body=LONG_WORD)
    await deliver(stack, mailbox, **{"from": "spam@elsewhere.example"}, subject="Win", body="Prizes")

    async def both_recorded() -> bool:
        return len(await outcomes(stack, token, connection_id)) >= 2

    await eventually(both_recorded, what="both emails' outcomes")
    return {
        "token": token,
        "connection": connection_id,
        "board": board_id,
        "incoming": incoming["id"],
        "outgoing": outgoing["id"],
    }


async def test_every_page_fits_375px(stack: Stack) -> None:
    state = await wide_state(stack)
    c, b = state["connection"], state["board"]
    async with watched_page(stack.api_url, SCREENSHOTS / "narrow-375", NARROW) as w:
        page = w.page
        # Signed out: home, sign-in, a refused sign-in.
        await w.visit("home-signed-out", "/", narrow=True)
        await w.visit("signin", "/signin", narrow=True)
        await page.fill("#token", "not-a-token")
        await page.click("main button[type=submit]")
        await page.wait_for_selector("[role=alert]")
        await w.check("signin-refused", narrow=True)
        await page.fill("#token", state["token"])
        await page.click("main button[type=submit]")
        await page.wait_for_url(f"{w.app_url}/")
        await w.check("home", narrow=True)

        for name, path in [
            ("connections", "/connections"),
            ("connection", f"/connections/{c}"),
            ("activity", f"/connections/{c}/activity"),
            ("activity-skipped", f"/connections/{c}/activity?outcome=skipped"),
            ("activity-failed-empty", f"/connections/{c}/activity?outcome=failed"),
            ("disconnect", f"/connections/{c}/disconnect"),
            ("boards", "/boards"),
            ("board", f"/boards/{b}"),
            ("recipes", "/recipes"),
            ("recipe-new-email-item", f"/recipes/new?kind=email_item&connection_id={c}"),
            ("recipe-new-email-update", f"/recipes/new?kind=email_update&connection_id={c}"),
            ("recipe-new-item-created", f"/recipes/new?kind=item_created&connection_id={c}"),
            ("recipe-new-column-changed", f"/recipes/new?kind=column_changed&connection_id={c}"),
            ("recipe-outgoing", f"/recipes/{state['outgoing']}"),
            ("recipe-delete", f"/recipes/{state['incoming']}/delete"),
            ("recipe-incoming", f"/recipes/{state['incoming']}"),
        ]:
            await w.visit(name, path, narrow=True)
        # The activity page checked had its rows and chart.
        await page.goto(f"{w.app_url}/connections/{c}/activity")
        assert await page.locator("table.activity tbody tr").count() >= 2
        assert await page.locator("svg.chart").count() == 1

        # The incoming recipe's dry run: its table of results.
        await page.goto(f"{w.app_url}/recipes/{state['incoming']}")
        await page.click("#run-dry-run")
        await page.wait_for_selector("#dry-run-results, #dry-run-error")
        await w.check("recipe-dry-run", narrow=True)

        # Errors in words: a board without a name, a recipe without one, a connect without a choice, and
        # a sign-in response that belongs to no sign-in.
        await page.goto(f"{w.app_url}/boards")
        await page.fill("#board-name", "   ")
        await page.click("#create-board button[type=submit]")
        await page.wait_for_selector("#board-name-error")
        await w.check("board-error", narrow=True)
        await page.goto(f"{w.app_url}/recipes/new?kind=email_item&connection_id={c}")
        await page.fill("#f-name", "")
        await page.click("#save")
        await page.wait_for_selector("#form-errors")
        await w.check("recipe-error", narrow=True)
        await page.goto(f"{w.app_url}/connections")
        await page.uncheck("#scope-incoming")
        await page.uncheck("#scope-outgoing")
        await page.click("#connect")
        await page.wait_for_url("**/connect/outlook")
        await w.check("connect-error", narrow=True)
        await w.visit("oauth-error", "/oauth/callback?state=not-ours&code=nothing", narrow=True)
        assert "not connected" in (await page.text_content("h1") or "")
    assert w.problems == [], "\n".join(w.problems)
