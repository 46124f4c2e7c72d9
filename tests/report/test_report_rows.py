"""`kubectl atlassian report` as table, CSV and JSON, and who-has, against a known cluster.

Every row is written out: the world (review_world.py) is small enough to know each account's
days idle, flags and product rows by heart.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from review_world import FORMULA_NAME, XSS_NAME

pytestmark = pytest.mark.e2e

HEADER = (
    "ORG", "NAME", "EMAIL", "STATUS", "DESIRED", "READY", "IDLE", "PRODUCT", "FLAGS",
)  # fmt: skip
C, J = "Confluence (acme)", "Jira Software (acme)"
OK, BUDGET = "InDesiredState", "SuspensionBudgetExceeded"
TABLE = [
    ("acme", "nora-never", "5b10-nora", "Active", "-", OK, "-", "-", "-"),
    ("acme", "ada-admin", "admin@acme.example", "Active", "-", OK, "183d", J, "protected"),
    ("acme", "dan-gone", "dan@acme.example", "Deprovisioned", "-", OK, "427d",
     f"{J}: Deprovisioned", "-"),
    ("acme", "eve-formula", "eve@acme.example", "Active", "-", OK, "3d", "-", "-"),
    ("acme", "ivan-idp", "ivan@acme.example", "Active", "-", OK, "326d", J, "IdP"),
    ("acme", "jane-doe", "jane.doe@acme.example", "Active", "-", OK, "4d", C, "-"),
    ("acme", "jane-doe", "jane.doe@acme.example", "Active", "-", OK, "4d", J, "-"),
    ("acme", "john-smith", "john.smith@acme.example", "Active", "Suspended", BUDGET, "12d",
     J, "-"),
    ("acme", "kim-keep", "kim@acme.example", "Active", "Active", OK, "303d", "-", "-"),
    ("acme", "mallory", "mallory@acme.example", "Active", "-", OK, "1d", C, "-"),
    ("acme", "nina-new", "nina.new@acme.example", "Active", "-", OK, "-", "-", "-"),
    ("acme", "olga-old", "olga.old@acme.example", "Active", "-", OK, "275d", C, "-"),
    ("acme", "olga-old", "olga.old@acme.example", "Active", "-", OK, "275d",
     "Confluence (beta): Deprovisioned", "-"),
    ("acme", "pete-protected", "pete@acme.example", "Active", "-", OK, "215d", "-",
     "protected"),
    ("acme", "sam-siteadmin", "sam@acme.example", "Active", "-", OK, "245d", C, "admin"),
    ("acme", "sue-suspended", "sue@acme.example", "Suspended", "-", OK, "331d", C, "-"),
    ("acme", "una-unmanaged", "una@gmail.example", "Active", "-", OK, "-", "-",
     "unmanaged"),
    ("acme", "walt-wait", "walt.wait@acme.example", "Active", "Suspended", BUDGET, "7d", C,
     "-"),
    ("globex", "erin-exempt", "erin@globex.example", "Active", "-", OK, "154d", "-",
     "exempt"),
    ("globex", "gary-globex", "gary@globex.example", "Active", "-", OK, "123d",
     "Jira Service Management (globex)", "eligible"),
    ("initech", "oscar-orphan", "oscar@initech.example", "-", "-", "-", "-", "-", "-"),
]  # fmt: skip
#: The inventory columns `--format wide` adds, per row of TABLE.
INVENTORY_HEADER = (
    "NAME", "DISPLAY-NAME", "BILLABLE", "LAST-ACTIVE", "ACCESS", "PRODUCT-LAST-ACTIVE",
    "LAST-ACTION", "REQUESTED-BY", "APPROVAL",
)  # fmt: skip
INVENTORY = [
    ("nora-never", "Nora Never", "yes", "-", "-", "-", "-", "-", "-"),
    ("ada-admin", "Ada Admin", "yes", "2026-06-01", "Active", "2026-06-01", "-", "-", "-"),
    ("dan-gone", "Dan Gone", "no", "2025-10-01", "Deprovisioned", "2025-10-01", "-", "-", "-"),
    ("eve-formula", '=HYPERLINK("http://evil.examp...', "yes", "2026-11-29", "-", "-", "-",
     "-", "-"),
    ("ivan-idp", "Ivan Idp", "yes", "2026-01-10", "Active", "2026-01-10", "-", "-", "-"),
    ("jane-doe", "Jane Doe", "yes", "2026-11-27", "Active", "2026-11-26", "-", "-", "-"),
    ("jane-doe", "Jane Doe", "yes", "2026-11-27", "Active", "2026-11-27", "-", "-", "-"),
    ("john-smith", "John Smith", "yes", "2026-11-20", "Active", "2026-11-20", "-", "-", "-"),
    ("kim-keep", "Kim Keep", "yes", "2026-02-02", "-", "-", "-", "-", "-"),
    ("mallory", "<script>window.__pwned=1</scr...", "yes", "2026-11-30", "Active",
     "2026-11-30", "-", "-", "-"),
    ("nina-new", "Nina New", "yes", "-", "-", "-", "-", "-", "-"),
    ("olga-old", "Olga Old", "yes", "2026-03-01", "Active", "2026-02-15", "-", "-", "-"),
    ("olga-old", "Olga Old", "yes", "2026-03-01", "Deprovisioned", "2025-12-01", "-", "-", "-"),
    ("pete-protected", "Pete Protected", "yes", "2026-05-01", "-", "-", "-", "-", "-"),
    ("sam-siteadmin", "Sam Siteadmin", "yes", "2026-04-01", "Active", "2026-04-01", "-", "-", "-"),
    ("sue-suspended", "Sue Suspended", "no", "2026-01-05", "Active", "2026-01-05", "-", "-", "-"),
    ("una-unmanaged", "Una Unmanaged", "no", "-", "-", "-", "-", "-", "-"),
    ("walt-wait", "Walt Wait", "yes", "2026-11-25", "Active", "2026-11-25",
     "Suspend Failed 2026-12-02", "kubectl-patch", "-"),
    ("erin-exempt", "Erin Exempt", "yes", "2026-07-01", "-", "-", "-", "-", "-"),
    ("gary-globex", "Gary Globex", "yes", "2026-08-01", "Active", "2026-08-01", "-", "-", "-"),
    ("oscar-orphan", "-", "-", "-", "-", "-", "-", "-", "-"),
]  # fmt: skip
ORG_SECTION = [
    "Org acme: Ready True (Synced), Synced True (Synced), last sync 2026-12-02T08:55:00Z",
    "  16 of 40 users of the org have an AtlassianAccount",
    "  warning: account discovery is off (spec.accountDiscovery.enabled is false): this review "
    "covers only the 16 accounts someone created, not the org's other 24 users",
    "Org globex: Ready unknown (no condition yet), Synced unknown (no condition yet), "
    "last sync 2026-12-02T08:50:00Z",
    "  2 of 2 users of the org have an AtlassianAccount",
    "  warning: account discovery is off (spec.accountDiscovery.enabled is false): this review "
    "covers only the 2 accounts someone created",
]


def cells(table: str) -> list[tuple[str, ...]]:
    """The table's lines split into cells, checking that every cell starts under its header."""
    lines = table.split("\n\n", 1)[0].rstrip("\n").split("\n")  # the org section follows
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    parsed = []
    for line in lines:
        row = tuple(line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True))
        for start in starts[1:]:
            assert line[start - 1] == " ", f"a cell runs into the next column:\n{line}"
        parsed.append(row)
    return parsed


def org_section(table: str) -> list[str]:
    return table.split("\n\n", 1)[1].splitlines()


def test_table_has_one_aligned_row_per_account_and_product(world: Any) -> None:
    out = world.atlassian("report").stdout
    assert cells(out) == [HEADER, *TABLE]
    assert org_section(out)[:-1] == ORG_SECTION
    assert org_section(out)[-1] == (
        f"Org initech: AtlassianOrg not found in namespace {world.namespace}: nothing acts on "
        "its accounts"
    )
    # Readable in a 160-column terminal; this world's widest cells (initech, Deprovisioned,
    # SuspensionBudgetExceeded, a removed product) together take a few more.
    assert max(len(line) for line in out.splitlines()[: len(TABLE) + 1]) <= 165


def test_wide_adds_the_inventory_and_who_asked(world: Any) -> None:
    wide = cells(world.atlassian("report", "--format", "wide").stdout)
    picked = [wide[0].index(h) for h in INVENTORY_HEADER]
    assert [tuple(row[i] for i in picked) for row in wide[1:]] == INVENTORY


def test_the_table_is_the_default_of_every_entry_point(world: Any) -> None:
    expected = world.atlassian("report").stdout
    assert world.atlassian("report", "--format", "table").stdout == expected
    operator = world.run("atlassian-operator", "report")
    assert (operator.code, operator.stdout) == (0, expected)
    # kubectl finds the plugin on PATH (the venv's bin) by its name, kubectl-atlassian.
    plugin = world.run("kubectl", "atlassian", "report")
    assert (plugin.code, plugin.stdout) == (0, expected), plugin.stderr
    plugins = world.run("kubectl", "plugin", "list", namespaced=False, as_of=False).stdout
    assert str(Path(sys.executable).parent / "kubectl-atlassian") in plugins.splitlines()


def test_inactive_days_keeps_accounts_idle_longer_or_never_active_since_observed(
    world: Any,
) -> None:
    out = world.atlassian("report", "--inactive-days", "90").stdout
    names = [row[1] for row in cells(out)[1:]]
    # Never active counts from status.firstObserved, as the operator's policy counts: nora
    # (62 days) and nina (5 days) not yet, oscar (never observed) not at all.
    assert names == [
        "ada-admin", "dan-gone", "ivan-idp", "kim-keep", "olga-old", "olga-old",
        "pete-protected", "sam-siteadmin", "sue-suspended", "una-unmanaged", "erin-exempt",
        "gary-globex",
    ]  # fmt: skip
    at_30 = [row[1] for row in cells(world.atlassian("report", "--inactive-days", "30").stdout)]
    assert "nora-never" in at_30
    assert "nina-new" not in at_30
    # The boundary: gary's newest activity is 123 days and 9 hours old.
    at_123 = [row[1] for row in cells(world.atlassian("report", "--inactive-days", "123").stdout)]
    at_124 = [row[1] for row in cells(world.atlassian("report", "--inactive-days", "124").stdout)]
    assert "gary-globex" in at_123
    assert "gary-globex" not in at_124


def test_org_filter_and_all_namespaces(world: Any) -> None:
    out = world.atlassian("report", "--org", "globex").stdout
    assert [row[1] for row in cells(out)[1:]] == ["erin-exempt", "gary-globex"]

    everywhere = world.run("kubectl-atlassian", "report", "-A", namespaced=False)
    assert everywhere.code == 0, everywhere.stderr
    table = cells(everywhere.stdout)
    assert table[0] == ("NAMESPACE", *HEADER)
    ours = [row[1:] for row in table[1:] if row[0] == world.namespace]
    assert ours == TABLE


def test_csv_has_the_json_keys_and_neutralises_formulas(world: Any) -> None:
    out = world.atlassian("report", "--format", "csv", "--org", "globex").stdout
    ns = world.namespace
    assert out.replace("\r\n", "\n") == (
        "namespace,org,name,accountId,email,displayName,desiredState,accountStatus,ready,"
        "readyReason,readyMessage,lastAction,lastActionResult,lastActionReason,lastActionTime,"
        "lastActionRequestedBy,lastActionMessage,lastActionApprovalCount,lastActionApprovalBy,"
        "lastActionApprovalAt,billable,lastActive,daysSinceActive,inactiveDays,"
        "inactivityEligible,firstObserved,product,productStatus,productLastActive,protected,"
        "exempt,identityProvider,unmanaged,admin,keptByIntent,inactivityRefused\n"
        f"{ns},globex,erin-exempt,5b10-erin,erin@globex.example,Erin Exempt,,Active,True,"
        "InDesiredState,,,,,,,,,,,true,2026-07-01T00:00:00Z,154,154,,2026-01-01T00:00:00Z,,,,"
        "false,true,false,false,false,false,\n"
        f"{ns},globex,gary-globex,5b10-gary,gary@globex.example,Gary Globex,,Active,True,"
        "InDesiredState,,,,,,,,,,,true,2026-08-01T00:00:00Z,123,123,true,"
        "2026-01-01T00:00:00Z,Jira Service Management (globex),Active,2026-08-01T00:00:00Z,"
        "false,false,false,false,false,false,\n"
    )
    everyone = list(csv.DictReader(io.StringIO(world.atlassian("report", "-f", "csv").stdout)))
    assert [(r["name"], r["product"]) for r in everyone] == [
        (t[1], _blank(t[7].removesuffix(": Deprovisioned"))) for t in TABLE
    ]
    by_name = {r["name"]: r for r in everyone}
    assert by_name["eve-formula"]["displayName"] == "'" + FORMULA_NAME
    assert by_name["mallory"]["displayName"] == XSS_NAME


def _blank(cell: str) -> str:
    return "" if cell == "-" else cell


def test_json_rows_and_org_summaries(world: Any) -> None:
    doc = json.loads(world.atlassian("report", "--format", "json", "--inactive-days", "90").stdout)
    assert doc["kind"] == "AccessReview"
    assert doc["asOf"] == "2026-12-02T09:00:00Z"
    assert doc["inactiveDays"] == 90
    gary = next(r for r in doc["rows"] if r["name"] == "gary-globex")
    assert gary == {
        "namespace": world.namespace, "org": "globex", "name": "gary-globex",
        "accountId": "5b10-gary", "email": "gary@globex.example", "displayName": "Gary Globex",
        "desiredState": None, "accountStatus": "Active", "ready": "True",
        "readyReason": "InDesiredState", "readyMessage": None, "lastAction": None,
        "lastActionResult": None, "lastActionReason": None, "lastActionTime": None,
        "lastActionRequestedBy": None, "lastActionMessage": None,
        "lastActionApprovalCount": None, "lastActionApprovalBy": None,
        "lastActionApprovalAt": None, "billable": True,
        "lastActive": "2026-08-01T00:00:00Z", "daysSinceActive": 123, "inactiveDays": 123,
        "inactivityEligible": True, "firstObserved": "2026-01-01T00:00:00Z",
        "product": "Jira Service Management (globex)", "productStatus": "Active",
        "productLastActive": "2026-08-01T00:00:00Z", "protected": False, "exempt": False,
        "identityProvider": False, "unmanaged": False, "admin": False,
        "keptByIntent": False, "inactivityRefused": None,
    }  # fmt: skip
    flags = {
        r["name"]: [k for k in ("protected", "exempt", "identityProvider", "unmanaged", "admin")
                    if r[k]]
        for r in doc["rows"]
    }  # fmt: skip
    assert {n: f for n, f in flags.items() if f} == {
        "ada-admin": ["protected"], "pete-protected": ["protected"],
        "ivan-idp": ["identityProvider"], "una-unmanaged": ["unmanaged"],
        "sam-siteadmin": ["admin"], "erin-exempt": ["exempt"],
    }  # fmt: skip
    # Never active, first observed 62 days ago: idle 30+ days, not 90+.
    assert "nora-never" not in {r["name"] for r in doc["rows"]}
    at_30 = json.loads(world.atlassian("report", "-f", "json", "--inactive-days", "30").stdout)
    nora = next(r for r in at_30["rows"] if r["name"] == "nora-never")
    assert (nora["product"], nora["daysSinceActive"], nora["email"]) == (None, None, "")
    assert "nina-new" not in {r["name"] for r in at_30["rows"]}  # observed 5 days ago

    orgs = {o["name"]: o for o in doc["orgs"]}
    assert list(orgs) == ["acme", "globex", "initech"]
    acme = orgs["acme"]
    assert acme["accounts"] == 16
    assert acme["accountsByState"] == {"Active": 14, "Suspended": 1, "Deprovisioned": 1}
    assert acme["billable"] == 13
    # Billable, Active and idle 90+ days: ada, ivan, kim, olga, pete, sam; not nora, never
    # active and first observed 62 days ago, nor nina, the new hire.
    assert acme["reclaimableSeats"] == 6
    assert acme["flags"] == {"protected": 2, "exempt": 0, "IdP": 1, "unmanaged": 1, "admin": 1}
    assert acme["atlassianUsers"]["total"] == 40
    # globex has a policy: its eligible accounts, not --inactive-days, make the seats.
    assert orgs["globex"]["reclaimableSeats"] == 1
    assert orgs["globex"]["inactivity"] == {"eligible": 1, "eligibleBillable": 1, "suspended": 0}
    assert orgs["initech"]["found"] is False
    assert orgs["initech"]["accountsByState"]["Not observed"] == 1


def test_without_inactive_days_reclaimable_seats_are_unknown_without_a_policy(world: Any) -> None:
    doc = json.loads(world.atlassian("report", "--format", "json").stdout)
    seats = {o["name"]: o["reclaimableSeats"] for o in doc["orgs"]}
    assert seats == {"acme": None, "globex": 1, "initech": None}
    assert len(doc["rows"]) == len(TABLE)


def test_who_has_lists_active_access_with_last_use_there(world: Any) -> None:
    out = world.atlassian("who-has", "confluence (ACME)").stdout
    assert cells(out) == [
        ("ORG", "NAME", "EMAIL", "DISPLAY-NAME", "STATUS", "LAST-ACTIVE-THERE", "FLAGS"),
        ("acme", "jane-doe", "jane.doe@acme.example", "Jane Doe", "Active", "2026-11-26", "-"),
        ("acme", "mallory", "mallory@acme.example", "<script>window.__pwned=1</scr...", "Active",
         "2026-11-30", "-"),
        ("acme", "olga-old", "olga.old@acme.example", "Olga Old", "Active", "2026-02-15", "-"),
        ("acme", "sam-siteadmin", "sam@acme.example", "Sam Siteadmin", "Active", "2026-04-01",
         "admin"),
        ("acme", "sue-suspended", "sue@acme.example", "Sue Suspended", "Suspended", "2026-01-05",
         "-"),
        ("acme", "walt-wait", "walt.wait@acme.example", "Walt Wait", "Active", "2026-11-25", "-"),
    ]  # fmt: skip
    # Olga's access to Confluence (beta) was removed: she no longer has it.
    beta = world.atlassian("who-has", "Confluence (beta)")
    assert (beta.stdout, "No account has Active access" in beta.stderr) == ("", True)
    rows = json.loads(world.atlassian("who-has", "Jira Software (acme)", "-f", "json").stdout)
    assert [r["name"] for r in rows] == ["ada-admin", "ivan-idp", "jane-doe", "john-smith"]
