"""The review's pure parts, from dicts as the API server returns them: flags the way the
operator decides them, the inactivity boundary, and user data that tries to break a format."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from atlassian_operator.core.plan import exemptions
from atlassian_operator.core.resources import (
    DISCOVERED_LABEL,
    AccountResource,
    AccountSpec,
    OrgSpec,
)
from atlassian_operator.core.snapshot import Observation
from atlassian_operator.report.explain import explain
from atlassian_operator.report.format_csv import rows_csv
from atlassian_operator.report.format_html import review_html
from atlassian_operator.report.format_manifests import suspension_manifests
from atlassian_operator.report.format_table import review_table
from atlassian_operator.report.review import COLUMNS, AccessRow, build_review, who_has

AS_OF = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def org(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "acme"},
        "spec": {"orgId": "o", "apiKeySecretRef": {"name": "k"}, **spec},
    }


def account(
    name: str,
    spec: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    **status: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "labels": labels or {}},
        "spec": {"orgRef": {"name": "acme"}, **(spec or {"accountId": f"id-{name}"})},
        "status": {"accountStatus": "Active", "billable": True, **status},
    }


def flags(review: Any) -> dict[str, list[str]]:
    return {a.name: a.flags.words() for a in review.accounts}


SELECTOR_CASES = {
    "match-labels": ({"matchLabels": {"team": "ops"}}, ["ops"]),
    "in": ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["ops", "x"]}]},
           ["ops"]),
    "not-in": ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["ops"]}]},
               ["dev", "none"]),
    "exists": ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, ["ops", "dev"]),
    "does-not-exist": ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]},
                       ["none"]),
}  # fmt: skip


@pytest.mark.parametrize(("selector", "exempt"), SELECTOR_CASES.values(), ids=SELECTOR_CASES)
def test_exempt_is_the_orgs_label_selector(selector: dict[str, Any], exempt: list[str]) -> None:
    review = build_review(
        [org(inactivity={"suspendAfterDays": 30, "exemptSelector": selector})],
        [
            account("ops", labels={"team": "ops"}),
            account("dev", labels={"team": "dev"}),
            account("none"),
        ],
        as_of=AS_OF,
    )
    assert sorted(a.name for a in review.accounts if a.flags.exempt) == sorted(exempt)


def test_an_unusable_selector_exempts_nobody_and_explain_says_why() -> None:
    bad = {"matchExpressions": [{"key": "team", "operator": "Near"}]}
    review = build_review(
        [org(inactivity={"suspendAfterDays": 30, "exemptSelector": bad})],
        [account("ops", labels={"team": "ops"})],
        as_of=AS_OF,
    )
    assert flags(review) == {"ops": []}
    assert "exemptSelector cannot be used: matchExpressions[0] needs" in explain(
        review, review.accounts[0]
    )


def test_protection_matches_the_id_and_every_email_in_any_case() -> None:
    review = build_review(
        [org(suspension={"protectedAccounts": ["Boss@Acme.example", "id-pinned"]})],
        [
            account("by-spec-email", {"email": "boss@acme.EXAMPLE"}),
            account("by-status-email", {"accountId": "x"}, email="BOSS@acme.example"),
            account("by-pinned-id", {"email": "new@acme.example"}, accountId="id-pinned"),
            account("by-spec-id", {"accountId": "id-pinned"}),
            account("other", {"email": "boss2@acme.example"}),
        ],
        as_of=AS_OF,
    )
    assert {n: f for n, f in flags(review).items()} == {
        "by-pinned-id": ["protected"],
        "by-spec-email": ["protected"],
        "by-spec-id": ["protected"],
        "by-status-email": ["protected"],
        "other": [],
    }


IDLE = {"lastActive": "2026-01-01T00:00:00Z"}
EXEMPT_LIST_ACCOUNTS = [
    account("by-spec-email", {"email": "boss@acme.EXAMPLE"}, **IDLE),
    account("by-status-email", {"accountId": "x"}, email="BOSS@acme.example", **IDLE),
    account("by-pinned-id", {"email": "new@acme.example"}, accountId="id-pinned", **IDLE),
    account("by-spec-id", {"accountId": "id-pinned"}, **IDLE),
    account("by-label", labels={"licence": "keep"}, **IDLE),
    account("both", {"accountId": "id-pinned"}, labels={"licence": "keep"}, **IDLE),
    account("discovered", labels={DISCOVERED_LABEL: "true", "licence": "keep"}, **IDLE),
    account("other", {"email": "boss2@acme.example"}, **IDLE),
]
EXEMPT_POLICY = {
    "suspendAfterDays": 30, "mode": "Enforce", "exempt": ["Boss@Acme.example", "id-pinned"],
    "exemptSelector": {"matchLabels": {"licence": "keep"}},
}  # fmt: skip
LISTED = "listed in spec.inactivity.exempt"
LABELLED = "matches spec.inactivity.exemptSelector"


def test_the_exempt_list_exempts_by_id_and_every_email_and_the_report_says_which() -> None:
    review = build_review(
        [org(inactivity=EXEMPT_POLICY)], EXEMPT_LIST_ACCOUNTS, as_of=AS_OF, inactive_days=90
    )
    assert {a.name: a.flags.exempt_by for a in review.accounts} == {
        "by-spec-email": (LISTED,), "by-status-email": (LISTED,), "by-pinned-id": (LISTED,),
        "by-spec-id": (LISTED,), "by-label": (LABELLED,), "both": (LABELLED, LISTED),
        "discovered": (LABELLED,), "other": (),
    }  # fmt: skip
    skipped = dict(
        re.findall(r"# skipped ns/(\S+) \S+: (.*)", suspension_manifests(review, "namespace ns"))
    )
    assert skipped["by-spec-id"] == f"exempt: {LISTED} of AtlassianOrg acme"
    assert skipped["by-label"] == f"exempt: {LABELLED} of AtlassianOrg acme"
    assert skipped["both"] == f"exempt: {LABELLED} and {LISTED} of AtlassianOrg acme"
    assert "other" not in skipped and len(skipped) == 7
    text = {a.name: explain(review, a) for a in review.accounts}
    assert f"exempt: {LISTED}" in text["by-status-email"]
    assert "2 exempt account(s) in spec.inactivity.exempt" in text["other"]
    assert "lost if it is re-created: list it in spec.inactivity.exempt" in text["discovered"]
    assert "lost if it is re-created" not in text["by-label"]


def test_the_report_and_the_operator_exempt_the_same_accounts() -> None:
    policy = OrgSpec.from_dict(org(inactivity=EXEMPT_POLICY)["spec"]).inactivity
    review = build_review([org(inactivity=EXEMPT_POLICY)], EXEMPT_LIST_ACCOUNTS, as_of=AS_OF)
    report = {a.name: a.flags.exempt for a in review.accounts}
    for body in EXEMPT_LIST_ACCOUNTS:
        resource = AccountResource.from_body(body)
        assert isinstance(resource.spec, AccountSpec)
        pinned = resource.status.get("accountId") or resource.spec.account_id
        by_label, listed = exemptions(
            policy, resource.spec, resource.status, Observation(None, pinned), resource.labels
        )
        assert report[resource.ref.name] == (by_label or listed), resource.ref.name


def test_an_unusable_exempt_list_exempts_nobody_and_explain_says_why() -> None:
    review = build_review(
        [org(inactivity={"suspendAfterDays": 30, "exempt": ["id-a", 7]})],
        [account("a")],
        as_of=AS_OF,
    )
    assert flags(review) == {"a": []}
    assert "exempt list cannot be used: spec.inactivity.exempt[1] 7 is not" in explain(
        review, review.accounts[0]
    )


def test_admins_idp_and_unmanaged_come_from_the_v2_fields() -> None:
    review = build_review(
        [org()],
        [
            account("org-admin", platformRoles=["atlassian/org-admin"]),
            account("access-admin", platformRoles=["atlassian/user-access-admin"]),
            account("scim", managedBy="IdentityProvider"),
            account("invited", managedBy="Atlassian", claimStatus="managed"),
            account("outside", claimStatus="unmanaged"),
        ],
        as_of=AS_OF,
    )
    assert flags(review) == {
        "access-admin": [],
        "invited": [],
        "org-admin": ["admin"],
        "outside": ["unmanaged"],
        "scim": ["IdP"],
    }


@pytest.mark.parametrize(
    ("idle", "selected"),
    [
        (timedelta(days=90), False),
        (timedelta(days=90, seconds=1), True),
        (timedelta(days=89, hours=23), False),
    ],
    ids=["exactly-90-days", "a-second-more", "a-day-less"],
)
def test_inactive_days_means_older_than_n_days(idle: timedelta, selected: bool) -> None:
    last = (AS_OF - idle).strftime("%Y-%m-%dT%H:%M:%SZ")
    review = build_review([org()], [account("a", lastActive=last)], as_of=AS_OF, inactive_days=90)
    assert bool(review.selected) is selected


def test_the_newest_of_account_and_product_activity_counts() -> None:
    review = build_review(
        [org()],
        [
            account(
                "a",
                lastActive="2026-01-01T00:00:00Z",
                productAccess=[
                    {
                        "product": "Jira (x)",
                        "status": "Deprovisioned",
                        "lastActive": "2026-11-30T09:00:00Z",
                    },
                ],
            ),
            account("garbled", lastActive="last tuesday", firstObserved="2026-01-01T00:00:00Z"),
        ],
        as_of=AS_OF,
        inactive_days=30,
    )
    assert [(a.name, a.days_since_active) for a in review.accounts] == [
        ("a", 2),
        ("garbled", None),
    ]
    # No usable time: never active, counted from its first observation.
    assert [a.name for a in review.selected] == ["garbled"]


def test_an_account_whose_last_activity_is_unreadable_is_not_taken_for_never_active() -> None:
    # The operator leaves lastActive out and says why in the Ready condition.
    ready = {
        "type": "Ready", "status": "True", "reason": "LastActiveUnreadable",
        "message": "observe only; account is Active; last activity unreadable ('yesterday')",
    }  # fmt: skip
    observed = "2026-01-01T00:00:00Z"
    review = build_review(
        [org()],
        [
            account("daily", conditions=[ready], firstObserved=observed),
            account("never", firstObserved=observed),
        ],
        as_of=AS_OF,
        inactive_days=30,
    )
    assert [a.name for a in review.selected] == ["never"]
    daily = next(a for a in review.accounts if a.name == "daily")
    text = explain(review, daily)
    assert "last activity unreadable (see the Ready condition)" in text
    assert "never active" not in text
    # The manifests say why it is left alone, as the operator's policy leaves it alone.
    manifests = suspension_manifests(review, "namespace ns")
    assert (
        "# skipped ns/daily id-daily: last activity unreadable (see its Ready condition): its "
        "idle days are unknown\n"
    ) in manifests
    everyone = build_review([org()], [account("daily", conditions=[ready])], as_of=AS_OF)
    assert ">unreadable</td>" in review_html(everyone, 'namespace "ns"')


def _observed(days: int) -> str:
    return (AS_OF - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_never_active_account_is_idle_from_its_first_observation_only() -> None:
    # A new hire who has not signed in yet is no leaver: the operator's inactivity policy
    # counts a never-active account from status.firstObserved, and so does the review.
    review = build_review(
        [org()],
        [
            account("new-hire", firstObserved=_observed(5)),
            account("long-gone", firstObserved=_observed(40)),
            account("unseen"),  # no firstObserved: when it was first observed is unknown
        ],
        as_of=AS_OF,
        inactive_days=30,
    )
    assert [a.name for a in review.selected] == ["long-gone"]
    text = suspension_manifests(review, "namespace ns")
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(text) if d] == ["long-gone"]
    assert "# 1 to suspend, 2 skipped.\n" in text
    assert (
        f"# skipped ns/new-hire id-new-hire: never active, first observed 5 days ago "
        f"({_observed(5)}): not 30+ days yet (a never-active account counts from its first "
        "observation, as the inactivity policy counts it)\n"
    ) in text
    assert (
        "# skipped ns/unseen id-unseen: never active and no status.firstObserved: when the "
        "operator first observed it is unknown, so its idle days cannot be counted\n"
    ) in text
    # The table, the rows (CSV, JSON) and the page show the same selection and count.
    assert [r.account.name for r in review.rows()] == ["long-gone"]
    assert [s.reclaimable for s in review.summaries()] == [1]
    assert "new-hire" not in review_table(review, all_namespaces=False)
    assert "new-hire" not in review_html(review, 'namespace "ns"').split('id="accounts"')[1]
    hire = next(a for a in review.accounts if a.name == "new-hire")
    said = explain(review, hire)
    assert "never active (idle 5 days, counted from its first observation)" in said


def test_every_record_has_the_csv_columns_in_order() -> None:
    review = build_review([org()], [account("a")], as_of=AS_OF)
    assert tuple(review.rows()[0].record()) == COLUMNS


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_never_starts_a_cell_with_a_formula(start: str) -> None:
    review = build_review([org()], [account("a", displayName=f"{start}1+1")], as_of=AS_OF)
    row = list(csv.reader(io.StringIO(rows_csv(review.rows()), newline="")))[1]
    assert row[COLUMNS.index("displayName")] == f"'{start}1+1"


def test_a_line_break_inside_a_csv_cell_stays_in_its_cell() -> None:
    review = build_review([org()], [account("a", displayName="A\rB\nC")], as_of=AS_OF)
    rows = list(csv.reader(io.StringIO(rows_csv(review.rows()), newline="")))
    assert [r[COLUMNS.index("displayName")] for r in rows] == ["displayName", "A\rB\nC"]


def test_a_newline_in_a_name_stays_inside_the_comment_and_the_cell() -> None:
    sneaky = "Eve\nspec:\n  desiredState: Active"
    review = build_review(
        [org()],
        [account("eve", displayName=sneaky, firstObserved="2026-12-01T00:00:00Z")],
        as_of=AS_OF,
        inactive_days=0,
    )
    text = suspension_manifests(review, "namespace ns")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["spec"]["desiredState"] for d in docs] == ["Suspended"]
    comment = "# ns/eve id-eve (Eve spec: desiredState: Active): never active, first observed"
    assert f"{comment} 2026-12-01, billable" in text
    table = review_table(review, all_namespaces=False)
    assert len(table.splitlines()) == 2


def test_html_escapes_attributes_too() -> None:
    product = 'Jira" onmouseover="alert(1)'
    review = build_review(
        [org()],
        [account("a", displayName="<b>bold</b>", productAccess=[{"product": product,
                                                                 "status": "Active"}])],
        as_of=AS_OF,
    )  # fmt: skip
    page = review_html(review, 'namespace "ns"')
    assert 'onmouseover="alert' not in page
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "Jira&quot; onmouseover=&quot;alert(1)" in page


def test_who_has_ignores_case_and_removed_access() -> None:
    review = build_review(
        [org()],
        [
            account("has", productAccess=[{"product": "Confluence (acme)", "status": "Active"}]),
            account(
                "had", productAccess=[{"product": "Confluence (acme)", "status": "Deprovisioned"}]
            ),
        ],
        as_of=AS_OF,
    )
    rows: list[AccessRow] = who_has(review, " CONFLUENCE (Acme) ")
    assert [r.account.name for r in rows] == ["has"]


def test_explain_says_an_enforcing_policy_may_suspend_an_observe_only_account() -> None:
    enforce = {"suspendAfterDays": 30, "mode": "Enforce"}
    review = build_review(
        [org(inactivity=enforce)],
        [account("a", lastActive="2026-01-01T00:00:00Z", inactivityEligible=True)],
        as_of=AS_OF,
    )
    text = explain(review, review.accounts[0])
    assert (
        "Desired:     none: observe only, but the org's inactivity policy (mode Enforce) may "
        "suspend it\n"
    ) in text
    assert (
        "             eligible under the inactivity policy of AtlassianOrg acme (mode Enforce: "
        "suspended within the budget)\n"
    ) in text


def test_org_health_shows_the_inactivity_listing_when_the_operator_writes_it() -> None:
    body = org(accountDiscovery={"enabled": True}, inactivity={"suspendAfterDays": 90})
    body["status"] = {
        "lastSyncTime": "2026-12-02T08:55:00Z",
        "users": {"total": 3},
        "inactivity": {"eligible": 1, "asOf": "2026-12-02T08:50:00Z"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Synced"}],
    }
    summary = build_review([body], [], as_of=AS_OF).summaries()[0]
    assert summary.health() == (
        "Ready True (Synced), Synced unknown (no condition yet), "
        "last sync 2026-12-02T08:55:00Z, inactivity as of 2026-12-02T08:50:00Z"
    )
    assert summary.record()["inactivityAsOf"] == "2026-12-02T08:50:00Z"
    assert summary.org.inactivity_text().endswith(
        "; the operator counts 1 eligible (as of 2026-12-02T08:50:00Z)"
    )
    # Discovery on and nothing paused: nothing for a person to do.
    assert summary.notes() == []
    without = build_review([org()], [], as_of=AS_OF).summaries()[0]
    assert "inactivity as of" not in without.health()


def test_coverage_counts_each_observed_user_once_and_says_when_the_total_is_unknown() -> None:
    review = build_review(
        [org()],
        [
            account("a", accountId="id-1"),
            account("a-again", {"email": "a@x.example"}, accountId="id-1"),  # the same person
            account("b", accountId="id-2"),
            {"metadata": {"namespace": "ns", "name": "new"},
             "spec": {"orgRef": {"name": "acme"}, "email": "n@x.example"}},  # not observed
        ],
        as_of=AS_OF,
    )  # fmt: skip
    summary = review.summaries()[0]
    assert summary.coverage() == (
        "2 users of the org have an AtlassianAccount; how many users it has is not known yet "
        "(no complete listing)"
    )


def test_explain_names_the_approval_a_call_went_out_under() -> None:
    review = build_review(
        [org()],
        [
            account(
                "al",
                lastAction={
                    "action": "Suspend", "result": "Succeeded", "time": "2026-12-02T07:30:00Z",
                    "requestedBy": "kubectl-patch",
                    "approval": {"count": 40, "by": "kubectl-annotate",
                                 "at": "2026-12-02T07:25:00Z"},
                },
            )
        ],
        as_of=AS_OF,
    )  # fmt: skip
    assert (
        "Last action: Suspend Succeeded at 2026-12-02T07:30:00Z, requested by kubectl-patch, "
        "approved 40 by kubectl-annotate at 2026-12-02T07:25:00Z (past the org's brake on mass "
        "calls)" in explain(review, review.accounts[0])
    )


def test_a_review_of_an_org_whose_last_sync_failed_says_its_counts_are_not_current() -> None:
    # The key broke after the listing of 08:00: the operator kept its counts, and says when.
    broken = {
        **org(inactivity={"suspendAfterDays": 90}),
        "status": {
            "lastSyncTime": "2026-12-02T08:00:00Z",
            "inactivity": {
                "eligible": 1, "eligibleBillable": 1, "suspended": 0, "refused": 1,
                "refusedBillable": 1, "keptByIntent": 1, "asOf": "2026-12-02T08:00:00Z",
            },
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "SecretNotUsable"},
                {"type": "Synced", "status": "False", "reason": "SecretNotUsable"},
            ],
        },
    }  # fmt: skip
    review = build_review(
        [broken],
        [
            account("idle", inactiveDays=200, inactivityEligible=True),
            account("admin", inactiveDays=300, inactivityRefused="OrganizationAdmin"),
            account("pinned", {"accountId": "p", "desiredState": "Active"}, inactiveDays=150,
                    keptByIntent=True),
        ],
        as_of=AS_OF,
    )  # fmt: skip
    summary = review.summaries()[0]
    assert summary.reclaimable == 1  # the admin is refused, the pinned one kept by intent
    caveat = "not current: the org's Ready condition is False (SecretNotUsable)"
    assert "as of the listing at 2026-12-02T08:00:00Z" in summary.reclaimable_basis
    assert summary.record()["stale"].startswith(caveat)
    assert f"the counts and statuses shown are {caveat}" in " ".join(summary.notes())
    page = review_html(review, "ns")
    assert '<p class="note">the counts and statuses shown are ' + html.escape(caveat) in page
    assert "1 keptByIntent (as of 2026-12-02T08:00:00Z)" in page
    table = review_table(review, all_namespaces=False)
    assert [line.split()[-1] for line in table.splitlines()[1:]] == [
        "refused", "eligible", "kept-by-intent",
    ]  # fmt: skip
    text = explain(review, next(a for a in review.accounts if a.name == "pinned"))
    assert "this account: inactive 150 days (the operator's count), kept by intent" in text
    assert caveat in text
    records = {r.account.name: r.record() for r in review.rows()}
    assert records["pinned"]["keptByIntent"] is True
    assert records["admin"]["inactivityRefused"] == "OrganizationAdmin"
