"""More mail than one run of the connection workflow starts (children_per_run = 400): the workflow
continues as new with the rest in its state, the children it started survive, every item once."""

from __future__ import annotations

from tests.e2e.conftest import Stack
from tests.e2e.helpers import CUSTOMER, eventually
from tests.e2e.test_messages import connected_with_recipe, items
from tests.e2e.test_messages_reliability import wait_items, wait_outcomes

MAILS = 420


async def test_more_mail_than_one_run_continues_as_new_without_losing_any(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    handle = stack.env.client.get_workflow_handle(f"connection/{connection_id}")
    first_run = (await handle.describe()).run_id
    names = [f"help wave {n}" for n in range(MAILS)]
    ids = set()
    async with stack.emulator_control() as control:
        for name in names:
            r = await control.post(
                f"/_emulator/users/{email}/messages", json={"from": CUSTOMER, "subject": name}
            )
            assert r.status_code == 201, r.text
            ids.add(r.json()["id"])

    made = await wait_items(stack, token, board_id, MAILS)
    logged = await wait_outcomes(stack, token, connection_id, ids)

    async def continued() -> bool:
        # The run continues as new once its current step ends (a catch-up or a Graph retry may still
        # be under way when the last item lands), so this is awaited, not read once.
        return (await handle.describe()).run_id != first_run

    await eventually(continued, timeout=120, what="the connection workflow to continue as new")
    final = await items(stack, token, board_id)
    assert sorted(i["name"] for i in made) == sorted(names)
    assert sorted(i["name"] for i in final) == sorted(names)
    # Each message's recipe made its item: in the attempt that recorded the outcome ("made"), or, when a
    # step ran again after a timeout on a loaded machine, in an earlier attempt of the same step (the
    # item exists once either way: checked above).
    assert all(o["outcome"] == "processed" for o in logged), [
        o for o in logged if o["outcome"] != "processed"
    ]
    results = [(r["result"], r["reason"]) for o in logged for r in o["recipes"] if r["result"] != "missed"]
    assert len(results) == MAILS and all(
        result == "item" and reason in ("made", "made by an earlier attempt") for result, reason in results
    ), [r for r in results if r[1] != "made"]
