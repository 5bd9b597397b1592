"""The metrics module on its own: several API processes' counters summed in multiprocess mode (as
`make run` runs uvicorn with API_WORKERS processes), and reasons reduced to a fixed set of label values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from telemetry.metrics import reason_kind

REPO = Path(__file__).resolve().parents[2]

_COUNT = """
from telemetry.metrics import GRAPH_REQUESTS
GRAPH_REQUESTS.labels(status="429").inc({n})
"""

_RENDER = """
import sys
from telemetry.exposition import render
sys.stdout.write(render().decode())
"""


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_process_counts_into_one_scrape(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _python(_COUNT.format(n=2), env)  # two processes, as two uvicorn workers
    _python(_COUNT.format(n=3), env)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    text = _python(_RENDER, env)  # a third answers the scrape
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("outlook_graph_requests_total", (("status", "429"),))] == 5


@pytest.mark.parametrize(
    ("outcome", "reason", "kind"),
    [
        ("processed", "2 recipe(s) matched ('Invoices': item)", "matched"),
        ("skipped", "folder", "folder"),
        ("skipped", "message no longer exists", "message_gone"),
        ("skipped", "no recipe matched ('Invoices': from)", "no_match"),
        ("skipped", "sent by this service", "own_mail"),
        ("skipped", "automatic reply", "automatic_reply"),
        ("failed", "grant revoked: consent_revoked", "grant_revoked"),
        ("failed", "the recipe's board has no group 'New'", "recipe_broken"),
        ("failed", "Graph unavailable: get message (503)", "graph_unavailable"),
        ("failed", "Invoice 8812 from grace@customer.example", "other"),
    ],
)
def test_reasons_become_a_fixed_set_of_kinds(outcome, reason, kind):
    assert reason_kind(outcome, reason) == kind
