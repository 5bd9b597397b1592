"""One fault under the standard load, and its checks (chaos/checks.py): fresh connections, the emails
delivered at a steady rate, the fault injected once a third of them has been delivered, then a wait
for every expected item and a few seconds more for anything late (a duplicate would show then)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chaos import checks
from chaos.backlog import PhaseReport, wait_until
from chaos.faults import Fault, Run
from chaos.load import deliver, prepare
from payloads.sends import SendEmailInput
from tests.e2e.conftest import Stack
from workflows.send_email import SEND_RETRY

SETTLE_SECONDS = 5.0


@dataclass
class LoadOptions:
    emails: int
    connections: int
    rate: float
    recover_timeout: float
    refused_per_folder: int = 1


async def _emulator_json(stack: Stack, path: str, **params: Any) -> Any:
    async with stack.emulator_control() as control:
        r = await control.get(path, params=params)
        r.raise_for_status()
        return r.json()


def _say(fault: Fault, began: float, what: str) -> None:
    print(f"{fault.name} +{time.monotonic() - began:.0f}s: {what}", flush=True)


async def run_fault(stack: Stack, fault: Fault, opts: LoadOptions) -> PhaseReport:
    report = PhaseReport(fault.name)
    began = time.monotonic()
    _say(fault, began, f"connecting {opts.connections} mailboxes")
    load = await prepare(stack, opts.connections)
    run = Run(stack, load)
    since = time.time()
    await fault.before(run)
    third = asyncio.Event()

    def progress(n: int) -> None:
        if n >= max(1, opts.emails // 3):
            third.set()

    _say(fault, began, f"{opts.emails} emails at {opts.rate:g}/s")
    delivery = asyncio.create_task(
        deliver(stack, load, opts.emails, opts.rate, opts.refused_per_folder, progress)
    )
    waiter = asyncio.create_task(third.wait())
    await asyncio.wait({delivery, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if delivery.done() and delivery.exception():
        waiter.cancel()
        raise delivery.exception()  # type: ignore[misc]
    await waiter
    _say(fault, began, "injecting the fault")
    await fault.inject(run)
    await delivery
    await fault.after_load(run)
    _say(fault, began, "fault over; waiting for the items")

    expected = checks.expected_ids(load, run.excluded)

    # The sender's items each send one email, after the item: waited for too.
    sender_expected = sum(1 for m in expected if load.inbox[m][0] is load.sender)

    async def all_made() -> bool:
        return checks.count_made(stack, load, run.excluded) >= len(expected)

    async def all_sent() -> bool:
        sent_log = await _emulator_json(stack, f"/_emulator/users/{load.sender.email}/sent")
        return checks.sends(stack, load, sent_log).sent >= sender_expected

    took = await wait_until("every expected item", all_made, opts.recover_timeout, every=1.0)
    await wait_until("every email of the outgoing recipe", all_sent, _sends_wait(opts), every=1.0)
    _say(fault, began, "items made; settling")
    await asyncio.sleep(SETTLE_SECONDS)
    done = await _report(stack, fault, run, report, expected, since, took)
    _say(fault, began, "checked")
    return done


def _sends_wait(opts: LoadOptions) -> float:
    """How long the emails may come after the items. A sendMail attempt running on a worker that was
    killed is retried only once its start-to-close timeout has run out (SendEmailInput.send_timeout,
    60 s), its first backoff later (SEND_RETRY, 2 s): the wait must outlast that, whatever the run's
    recover timeout."""
    send_timeout: timedelta = SendEmailInput.model_fields["send_timeout"].default
    backoff = SEND_RETRY.initial_interval or timedelta(seconds=1)  # None is Temporal's default, 1 s
    retried_after = (send_timeout + backoff).total_seconds()
    return max(opts.recover_timeout / 2, retried_after + 30)


async def _report(
    stack: Stack,
    fault: Fault,
    run: Run,
    report: PhaseReport,
    expected: list[str],
    since: float,
    took: float | None,
) -> PhaseReport:
    load = run.load
    items = checks.made(stack, load)
    got = [m for m in expected if m in items.ledger]
    requests = await _emulator_json(stack, "/_emulator/requests", since=since)
    ours = {b.email.lower() for b in load.boxes}
    requests = [r for r in requests if (r.get("mailbox") or "").lower() in ours]
    logs = [stack.log_path, stack.log_path.parent / "worker.log"]  # the API's and the worker's
    throttling = checks.early_calls(requests, checks.holds_in_logs(logs))
    early = throttling.early
    notifications = await _emulator_json(stack, "/_emulator/notifications", since=since)
    acknowledged = checks.acknowledged_inbox_ids(notifications, set(expected))
    lost = sorted(acknowledged - set(items.ledger))
    states = checks.connection_states(stack, load)
    sent_log = await _emulator_json(stack, f"/_emulator/users/{load.sender.email}/sent")
    sends = checks.sends(stack, load, sent_log)
    last = max((items.ledger[m].timestamp() for m in got), default=None)
    recover = max(0.0, last - run.fault_ended) if last is not None and len(got) == len(expected) else None
    report.figures.update(
        emails=len(load.order),
        connections=len(load.boxes),
        expected=len(expected),
        made=len(got),
        duplicated=items.duplicates,
        refused_folder_emails=len(load.refused),
        refused_folder_items=items.refused_items,
        retry_after_answers=throttling.answers,
        retry_after_holds_logged=throttling.holds_logged,
        calls_arriving_after_a_retry_after=throttling.arrived_late,
        early_graph_calls=len(early),
        acknowledged=len(acknowledged),
        acknowledged_lost=len(lost),
        sends_items=sends.items,
        sent=sends.sent,
        sends_duplicated=sends.duplicated,
        sends_missing=sends.missing,
        fault_seconds=round(run.fault_ended - run.fault_started, 1),
        recover_seconds=round(recover, 1) if recover is not None else None,
        all_made_within_s=round(took, 1) if took is not None else None,
        **run.notes,
    )
    report.check("every expected item made", len(got) == len(expected), f"{len(got)} of {len(expected)}")
    report.check("no item duplicated", items.duplicates == 0, f"{items.duplicates} beyond one per email")
    report.check(
        "no item from junk, deleted or sent mail",
        items.refused_items == 0,
        f"{items.refused_items} items of {len(load.refused)} such emails",
    )
    report.check(
        "no Graph call before its Retry-After",
        not early,
        f"{len(early)} sent early of {len(requests)} calls after {throttling.answers} Retry-After answers"
        f" ({throttling.holds_logged} holds logged; {throttling.arrived_late} calls on their way arrived"
        " before the Retry-After ran out)" + (f"; first: {early[0]}" if early else ""),
    )
    report.check(
        "nothing acknowledged to Graph lost",
        not lost,
        f"{len(lost)} of {len(acknowledged)} acknowledged emails without their item",
    )
    others = {c: s for c, s in states.items() if c != run.revoked}
    not_active = {c: s for c, s in others.items() if s[0] != "active"}
    report.check(
        "no other connection affected",
        not not_active,
        f"{len(others) - len(not_active)} of {len(others)} active"
        + (f"; {sorted(set(not_active.values()))}" if not_active else ""),
    )
    if run.revoked is not None:
        status, reason = states.get(run.revoked, ("missing", ""))

        async def stopped() -> bool:
            nonlocal status, reason
            status, reason = checks.connection_states(stack, load).get(run.revoked or "", ("missing", ""))
            return status == "revoked"

        await wait_until("the revoked connection to stop", stopped, within=60)
        report.figures["revoked_status"] = f"{status}: {reason}"
        report.check(
            "the revoked connection stopped with its reason",
            status == "revoked" and bool(reason),
            f"{status}: {reason or '(no reason)'}",
        )
    report.check(
        "the outgoing recipe sent each email once",
        sends.duplicated == 0 and sends.missing == 0,
        f"{sends.sent} sent for {sends.items} items; {sends.duplicated} twice, {sends.missing} missing",
    )
    return report
