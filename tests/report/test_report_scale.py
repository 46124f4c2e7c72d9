"""The report at a thousand accounts, each format end to end (`hack/bench_report.py` measures
10,000): complete, and well inside a bound that a per-account request or a quadratic step
would break."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from review_world import bulk_accounts

pytestmark = pytest.mark.e2e

ACCOUNTS = 1_000
#: Seconds for one report of 1,000 accounts, process start included (about 1.5 s when quiet;
#: the bound leaves room for a busy two-core machine, not for a design that scales worse).
BOUND = 20.0


def test_every_format_reports_a_thousand_accounts_in_seconds(cluster: Any, tmp_path: Path) -> None:
    bulk_accounts(cluster.kubeconfig, cluster.namespace, ACCOUNTS)
    seconds = {}
    for fmt in ("table", "csv", "json", "html", "manifests"):
        out = tmp_path / f"report.{fmt}"
        start = time.monotonic()
        cluster.atlassian("report", "-f", fmt, "--inactive-days", "90", "-o", str(out))
        seconds[fmt] = time.monotonic() - start
        text = out.read_text()
        if fmt == "json":
            doc = json.loads(text)
            assert doc["orgs"][0]["accounts"] == ACCOUNTS
            selected = {r["name"] for r in doc["rows"]}
        elif fmt == "html":
            assert text.count('<tr data-state="') >= len(selected)
        elif fmt == "manifests":
            # Every selected, Active account (one in ten is Suspended) gets a suspension.
            active = sum(1 for n in selected if int(n[1:]) % 10 != 9)
            assert text.count("\nkind: AtlassianAccount\n") == active
    slow = {fmt: round(s, 1) for fmt, s in seconds.items() if s > BOUND}
    assert not slow, f"reports of {ACCOUNTS} accounts took more than {BOUND}s: {slow}"
