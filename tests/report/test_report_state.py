"""The report tells the state, not only the inventory: per account the desired state, the Ready
reason and the last action (with its approval past the brake); per org its health, how much of
it the review covers, and the calls the brake holds. Through the real plugin on a real API
server, with statuses written as the operator writes them."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from review_world import API_VERSION

pytestmark = pytest.mark.e2e

APPROVE = "atlassian.operators.dev/approve-suspensions"
ORGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # discovery off, the brake holding three calls
    "acme": (
        {"orgId": "org-acme", "apiKeySecretRef": {"name": "k"}},
        {
            "lastSyncTime": "2026-12-02T08:55:00Z",
            "users": {"total": 12, "active": 12},
            "suspensionBrake": {"threshold": 10, "madeToday": 8, "waiting": 3, "paused": True},
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Synced", "message": "listed",
                 "lastTransitionTime": "2026-12-01T00:00:00Z"},
                {"type": "Synced", "status": "True", "reason": "Synced", "message": "listed",
                 "lastTransitionTime": "2026-12-01T00:00:00Z"},
                {"type": "ActionsPaused", "status": "True", "reason": "MassSuspensionPaused",
                 "message": "3 lifecycle calls wait", "lastTransitionTime": "2026-12-02T08:00:00Z"},
            ],
        },
    ),
    # discovery on, its API key refused
    "globex": (
        {"orgId": "org-globex", "apiKeySecretRef": {"name": "k"},
         "accountDiscovery": {"enabled": True}},
        {
            "lastSyncTime": "2026-11-30T10:00:00Z",
            "users": {"total": 3, "active": 3},
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Unauthorized",
                 "message": "Atlassian answered 401: rotate the API key",
                 "lastTransitionTime": "2026-12-01T00:00:00Z"},
                {"type": "Synced", "status": "False", "reason": "Unauthorized",
                 "message": "Atlassian answered 401: rotate the API key",
                 "lastTransitionTime": "2026-12-01T00:00:00Z"},
            ],
        },
    ),
}  # fmt: skip


def _ready(status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-12-02T08:00:00Z"}  # fmt: skip


def _observed(email: str, state: str, ready: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"email": email, "accountId": f"5b10-{email.split('@')[0]}", "accountStatus": state,
            "atlassianStatus": "active" if state == "Active" else "inactive", "billable": True,
            "lastActive": "2026-11-01T00:00:00Z", "conditions": [ready], **extra}  # fmt: skip


SUSPEND = {"desiredState": "Suspended"}
APPROVED_CALL = {
    "action": "Suspend", "result": "Succeeded", "reason": "Succeeded",
    "time": "2026-12-02T07:30:00Z", "requestedBy": "argocd-controller",
    "message": "suspended account 5b10-al",
    "approval": {"count": 40, "by": "kubectl-annotate", "at": "2026-12-02T07:25:00Z"},
}  # fmt: skip
# (name, org, spec, status)
ACCOUNTS: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = [
    ("al-approved", "acme", SUSPEND,
     _observed("al@acme.example", "Suspended",
               _ready("True", "InDesiredState", "account is Suspended"),
               lastAction=APPROVED_CALL)),
    ("bo-budget", "acme", SUSPEND,
     _observed("bo@acme.example", "Active", _ready("False", "SuspensionBudgetExceeded",
                                                   "this suspension waits its turn"))),
    ("pam-paused", "acme", SUSPEND,
     _observed("pam@acme.example", "Active", _ready("False", "MassSuspensionPaused",
                                                    "lifecycle calls are paused"))),
    ("pat-protected", "acme", SUSPEND,
     _observed("pat@acme.example", "Active",
               _ready("False", "ProtectedAccount", "in spec.suspension.protectedAccounts"))),
    ("otto-observed", "acme", {},
     _observed("otto@acme.example", "Active", _ready("True", "Observed", "observe only"))),
    ("ned-new", "acme", {"email": "ned@acme.example"}, None),  # not observed yet: not covered
    ("gia-globex", "globex", {},
     _observed("gia@globex.example", "Active", _ready("True", "Observed", "observe only"))),
]  # fmt: skip


@pytest.fixture(scope="module")
def state(module_cluster: Any) -> Any:
    made = module_cluster
    docs: list[dict[str, Any]] = [
        {"apiVersion": API_VERSION, "kind": "AtlassianOrg", "metadata": {"name": name},
         "spec": spec}
        for name, (spec, _) in ORGS.items()
    ]  # fmt: skip
    for name, org, spec, status in ACCOUNTS:
        body = {"orgRef": {"name": org}, **spec}
        if "email" not in body:
            body["accountId"] = (status or {}).get("accountId") or f"5b10-{name}"
        docs.append({"apiVersion": API_VERSION, "kind": "AtlassianAccount",
                     "metadata": {"name": name}, "spec": body})  # fmt: skip
    made.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    statuses = [("aorg", n, s) for n, (_, s) in ORGS.items()]
    statuses += [("aacct", n, s) for n, _, _, s in ACCOUNTS if s]
    for kind, name, status in statuses:
        patch = json.dumps({"status": status})
        made.kubectl("patch", kind, name, "--subresource=status", "--type=merge", "-p", patch)
    return made


def table_and_orgs(out: str) -> tuple[list[list[str]], list[str]]:
    """The rows of the table (cells split on runs of 2+ spaces) and the org section under it."""
    table, _, orgs = out.partition("\n\n")
    rows = [re.split(r" {2,}", line.strip()) for line in table.splitlines()]
    return rows, orgs.splitlines()


def test_the_table_shows_each_accounts_desired_state_ready_reason_and_last_action(
    state: Any,
) -> None:
    rows, _ = table_and_orgs(state.atlassian("report").stdout)
    header = rows[0]
    assert header == ["ORG", "NAME", "EMAIL", "STATUS", "DESIRED", "READY", "IDLE",
                      "PRODUCT", "FLAGS"]  # fmt: skip
    seen = {r[1]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    shown = {n: (r["STATUS"], r["DESIRED"], r["READY"]) for n, r in seen.items()}
    assert shown == {
        "al-approved": ("Suspended", "Suspended", "InDesiredState"),
        "bo-budget": ("Active", "Suspended", "SuspensionBudgetExceeded"),
        "pam-paused": ("Active", "Suspended", "MassSuspensionPaused"),
        "pat-protected": ("Active", "Suspended", "ProtectedAccount"),
        "otto-observed": ("Active", "-", "Observed"),
        "ned-new": ("-", "-", "-"),
        "gia-globex": ("Active", "-", "Observed"),
    }
    wide, _ = table_and_orgs(state.atlassian("report", "-f", "wide").stdout)
    by_name = {r[1]: dict(zip(wide[0], r, strict=True)) for r in wide[1:]}
    assert {n: r["LAST-ACTION"] for n, r in by_name.items() if r["LAST-ACTION"] != "-"} == {
        "al-approved": "Suspend Succeeded 2026-12-02"
    }
    al = by_name["al-approved"]
    assert (al["LAST-ACTION"], al["REQUESTED-BY"], al["APPROVAL"]) == (
        "Suspend Succeeded 2026-12-02",
        "argocd-controller",
        "40 by kubectl-annotate 2026-12-02",
    )
    assert {"DISPLAY-NAME", "BILLABLE", "LAST-ACTIVE", "PRODUCT-LAST-ACTIVE"} <= set(wide[0])


def test_csv_and_json_carry_the_ready_condition_and_the_whole_last_action(state: Any) -> None:
    rows = list(csv.DictReader(io.StringIO(state.atlassian("report", "-f", "csv").stdout)))
    al = next(r for r in rows if r["name"] == "al-approved")
    assert {k: al[k] for k in al if k.startswith(("ready", "lastAction"))} == {
        "ready": "True", "readyReason": "InDesiredState", "readyMessage": "account is Suspended",
        "lastAction": "Suspend", "lastActionResult": "Succeeded", "lastActionReason": "Succeeded",
        "lastActionTime": "2026-12-02T07:30:00Z", "lastActionRequestedBy": "argocd-controller",
        "lastActionMessage": "suspended account 5b10-al", "lastActionApprovalCount": "40",
        "lastActionApprovalBy": "kubectl-annotate", "lastActionApprovalAt": "2026-12-02T07:25:00Z",
    }  # fmt: skip
    doc = json.loads(state.atlassian("report", "-f", "json").stdout)
    pat = next(r for r in doc["rows"] if r["name"] == "pat-protected")
    assert (pat["desiredState"], pat["ready"], pat["readyReason"], pat["lastAction"]) == (
        "Suspended", "False", "ProtectedAccount", None,
    )  # fmt: skip
    assert (
        next(r for r in doc["rows"] if r["name"] == "al-approved")["lastActionApprovalCount"] == 40
    )


def test_each_org_shows_its_health_its_coverage_and_the_calls_the_brake_holds(
    state: Any,
) -> None:
    _, orgs = table_and_orgs(state.atlassian("report").stdout)
    ns = state.namespace
    approve = f"kubectl annotate atlassianorg acme -n {ns} {APPROVE}=3 --overwrite"
    assert orgs == [
        "Org acme: Ready True (Synced), Synced True (Synced), last sync 2026-12-02T08:55:00Z",
        # ned-new has no observed status yet: 5 of the 6 acme accounts cover a user
        "  5 of 12 users of the org have an AtlassianAccount",
        "  warning: account discovery is off (spec.accountDiscovery.enabled is false): this "
        "review covers only the 5 accounts someone created, not the org's other 7 users",
        f"  lifecycle calls paused: 3 waiting, approve with {approve}",
        "Org globex: Ready False (Unauthorized), Synced False (Unauthorized), "
        "last sync 2026-11-30T10:00:00Z",
        "  1 of 3 users of the org have an AtlassianAccount",
        "  Ready False (Unauthorized): Atlassian answered 401: rotate the API key",
        "  Synced False (Unauthorized): Atlassian answered 401: rotate the API key",
        "  the counts and statuses shown are not current: the org's Ready condition is False "
        "(Unauthorized), so these are the counts of the listing at 2026-11-30T10:00:00Z; see "
        "kubectl describe aorg globex",
    ]
    # The command the report gives is one the API server takes, for the org it names.
    state.kubectl(*shlex.split(approve)[1:])
    annotations = json.loads(state.kubectl("get", "aorg", "acme", "-o", "json").stdout)["metadata"][
        "annotations"
    ]
    assert annotations[APPROVE] == "3"

    doc = json.loads(state.atlassian("report", "-f", "json").stdout)
    acme = next(o for o in doc["orgs"] if o["name"] == "acme")
    assert acme["coverage"] == {"usersWithAccount": 5, "users": 12}
    assert acme["accountDiscovery"] is False
    assert acme["ready"]["reason"] == "Synced"
    assert acme["approveCommand"] == approve
    assert acme["suspensionBrake"]["waiting"] == 3
    globex = next(o for o in doc["orgs"] if o["name"] == "globex")
    assert (globex["accountDiscovery"], globex["approveCommand"]) == (True, None)


def test_the_page_shows_the_state_of_accounts_and_orgs(
    state: Any, browser: Any, tmp_path: Path
) -> None:
    page = tmp_path / "state.html"
    state.atlassian("report", "-f", "html", "-o", str(page))
    browser.get(page.as_uri())
    headers = [
        th.get_attribute("textContent")
        for th in browser.find_elements("css selector", "#accounts thead th")
    ]
    assert headers[2:6] == ["Status", "Desired", "Ready", "Last action"]
    rows = {
        r.find_element("css selector", ".res").text.split("/", 1)[1]: r
        for r in browser.find_elements("css selector", "#accounts tbody tr")
    }
    pat = rows["pat-protected"]
    assert pat.find_element("css selector", "td.ready").text == "ProtectedAccount"
    assert pat.find_element("css selector", "td.desired").text == "Suspended"
    action = rows["al-approved"].find_element("css selector", "td.action").text
    assert action == (
        "Suspend Succeeded 2026-12-02\nby argocd-controller; approved 40 by kubectl-annotate "
        "at 2026-12-02T07:25:00Z"
    )
    acme = browser.find_element("css selector", f'[data-org="{state.namespace}/acme"]')
    notes = [p.text for p in acme.find_elements("css selector", "p.note")]
    assert acme.find_element("css selector", "p.coverage").text == (
        "Coverage: 5 of 12 users of the org have an AtlassianAccount"
    )
    assert notes[0].startswith("warning: account discovery is off")
    assert notes[1].startswith("lifecycle calls paused: 3 waiting, approve with kubectl annotate")


def test_as_of_moves_the_idle_count_and_never_the_state_read_from_the_cluster(
    state: Any,
) -> None:
    def report(as_of: str) -> dict[str, dict[str, str]]:
        out = state.run("kubectl-atlassian", "report", f"--as-of={as_of}", as_of=False)
        rows, _ = table_and_orgs(out.stdout)
        return {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}

    now, later = report("2026-12-02T09:00:00Z"), report("2027-06-02T09:00:00Z")
    assert (now["bo-budget"]["IDLE"], later["bo-budget"]["IDLE"]) == ("31d", "213d")
    # --as-of is no time machine: what the operator wrote is read as it is now.
    assert {n: {k: v for k, v in r.items() if k != "IDLE"} for n, r in later.items()} == {
        n: {k: v for k, v in r.items() if k != "IDLE"} for n, r in now.items()
    }
    help_text = state.run("kubectl-atlassian", "report", "--help", as_of=False).stdout
    assert "still read from the cluster as they are now" in " ".join(help_text.split())
