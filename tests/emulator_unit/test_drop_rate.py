"""The drop_rate fault: a seeded fraction of change notifications is dropped, each drop followed by a
`missed` lifecycle notification, and the same faults drop the same notifications on every run."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.emulator_unit.helpers import msal_app, register_app, sign_in
from tests.emulator_unit.receiver import Receiver
from tests.support.emulator_server import start_emulator

MAILS = 40


def wait_for(pred: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def delivered_subjects(tmp_path: Path, seed: int) -> tuple[list[str], int, int]:
    """(subjects whose notification arrived, dropped count, missed count) for MAILS mails at 25%."""
    with Receiver() as rec, start_emulator(tmp_path, no_snapshot=True) as emu:
        client_id, secret = register_app(emu)
        result = sign_in(emu, msal_app(emu, client_id, secret), "dora@contoso.test")
        h = {"Authorization": f"Bearer {result['access_token']}"}
        exp = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with emu.client() as c:
            r = c.post(
                "/v1.0/subscriptions",
                headers={**h, "Prefer": 'IdType="ImmutableId"'},
                json={
                    "changeType": "created",
                    "notificationUrl": rec.url,
                    "lifecycleNotificationUrl": rec.url,
                    "resource": "me/mailFolders('inbox')/messages",
                    "expirationDateTime": exp,
                    "clientState": "s3cret",
                },
            )
            assert r.status_code == 201, r.text
            assert c.put("/_emulator/faults", json={"drop_rate": 0.25, "drop_seed": seed}).status_code == 200
            subject_of = {}
            for n in range(MAILS):
                msg = c.post(
                    "/_emulator/users/dora@contoso.test/messages",
                    json={"from": "x@fabrikam.test", "subject": f"mail {n}"},
                ).json()
                subject_of[msg["id"]] = msg["subject"]
            stats = c.get("/_emulator/stats").json()
            dropped = stats["dropped"]
            assert wait_for(lambda: c.get("/_emulator/stats").json()["pending"] == 0)
            assert wait_for(lambda: sum(1 for n in rec.notifications if "changeType" in n) == MAILS - dropped)
            c.delete("/_emulator/faults")
        changes = [n for n in rec.notifications if "changeType" in n]
        missed = [n for n in rec.notifications if n.get("lifecycleEvent") == "missed"]
        assert all(n["clientState"] == "s3cret" for n in missed)
        return sorted(subject_of[n["resourceData"]["id"]] for n in changes), dropped, len(missed)


def test_drop_rate_drops_a_seeded_fraction_and_sends_missed(tmp_path: Path) -> None:
    first, dropped, missed = delivered_subjects(tmp_path / "a", seed=7)
    assert 0 < dropped < MAILS  # 25% of 40: some, never all
    assert len(first) == MAILS - dropped
    assert missed >= 1  # at least one `missed` (several queued at once are sent as one)
    again, dropped_again, _ = delivered_subjects(tmp_path / "b", seed=7)
    assert (again, dropped_again) == (first, dropped)
