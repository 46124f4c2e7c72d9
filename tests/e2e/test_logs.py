"""The operator's JSON log end to end: run with `--log-format json`, every line is one JSON
object, the lines about a person carry the namespace, org, account and action as fields, and a
deleted Secret and a deleted org each leave one line however many syncs follow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.operator import OperatorProcess
from support.simulator import Simulator

pytestmark = pytest.mark.e2e

ALICE = "aa0000000000000000000001"


@pytest.fixture
def e2e(kube: Any, crds: None, simulator: Simulator) -> Iterator[E2E]:
    op = OperatorProcess(
        kube.kubeconfig, [kube.namespace], ["--log-format", "json"], allow=[simulator.url]
    )
    op.start()
    try:
        yield E2E(kube, simulator, op)
    finally:
        op.stop()
        op.assert_clean_log([API_KEY])


def log_lines(e2e: E2E) -> list[dict[str, Any]]:
    """Every line the operator wrote, parsed: one that is not a JSON object fails the test."""
    lines = [json.loads(line) for line in e2e.operator.log_text().splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


def about(lines: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    return [line for line in lines if text in line["message"]]


def test_json_lines_name_whom_they_are_about_and_each_loss_is_told_once(e2e: E2E) -> None:
    namespace = e2e.kube.namespace
    e2e.sim.add_user(
        account_id=ALICE, name="Alice Adams", email="alice@acme.example", account_status="active"
    )
    e2e.org()
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    e2e.wait_status(
        "aacct", "alice", lambda s: s.get("accountStatus") == "Suspended", "alice Suspended"
    )

    e2e.kube.kubectl("delete", "secret", "atlassian-api-key")
    e2e.later_sync()
    e2e.wait_status(
        "aorg", "acme", lambda s: condition(s, "Ready", "reason") == "SecretNotUsable", "no key"
    )
    e2e.later_sync()  # every sync reads the key again: no second line
    e2e.kube.kubectl("delete", "aorg/acme", "--timeout=20s")
    e2e.wait_status(
        "aacct", "alice", lambda s: condition(s, "Ready", "reason") == "OrgNotFound", "no org"
    )

    lines = log_lines(e2e)
    (suspended,) = about(lines, "Disabled alice@acme.example")
    assert suspended["message"].startswith(f"Disabled alice@acme.example for {namespace}/alice")
    assert {k: suspended.get(k) for k in ("namespace", "org", "account", "action")} == {
        "namespace": namespace,
        "org": "acme",
        "account": "alice",
        "action": "Suspend",
    }
    assert suspended["accountId"] == ALICE
    assert suspended["logger"] == "atlassian_operator.reconcile.account_side"
    assert suspended["severity"] == "info" and suspended["timestamp"]

    (no_key,) = about(lines, "cannot be used")
    assert no_key["message"].startswith(
        f"The API key of AtlassianOrg {namespace}/acme cannot be used: Secret "
        f"{namespace}/atlassian-api-key not found"
    )
    assert (no_key["namespace"], no_key["org"], no_key["severity"]) == (namespace, "acme", "warn")
    (deleted,) = about(lines, "was deleted")
    assert deleted["message"].startswith(f"AtlassianOrg {namespace}/acme was deleted")
    assert (deleted["namespace"], deleted["org"]) == (namespace, "acme")
    assert not [line for line in lines if line["severity"] in ("error", "fatal")]
