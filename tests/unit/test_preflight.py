"""The preflight's pure parts: its lines, its verdicts, and the estimate of a sync's cost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianUnavailable,
    AuthenticationFailed,
    DirectoryUser,
    Forbidden,
    LifecyclePermission,
    OrgNotFound,
    User,
)
from atlassian_operator.core.preflight import (
    CrdState,
    Finding,
    ListingProbe,
    Permission,
    SearchProbe,
    Verdict,
    choose_sample,
    exit_code,
    judge_access,
    judge_cost,
    judge_crds,
    judge_lease,
    judge_lifecycle,
    judge_listing,
    judge_plan,
    judge_rbac,
    judge_search,
    judge_secret_label,
    operator_permissions,
    overall,
    render_json,
    render_text,
)
from atlassian_operator.core.sizing import estimate_sync
from atlassian_operator.report.cli import main

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
JIRA = {"key": "jira-software", "name": "Jira Software", "url": "https://acme.atlassian.net"}


def user(account_id: str = "a1", status: str = "active", **fields: Any) -> User:
    base: dict[str, Any] = {
        "account_id": account_id,
        "account_type": "atlassian",
        "account_status": status,
        "name": account_id,
        "picture": "p",
        "access_billable": True,
        "last_active": "2026-11-01T10:00:00Z",
        "product_access": [{**JIRA, "last_active": "2026-11-01T10:00:00Z"}],
    }
    return User.model_validate({**base, **fields})


def verdicts(findings: list[Finding]) -> list[tuple[str, Verdict]]:
    return [(f.check, f.verdict) for f in findings]


# -- the lines --------------------------------------------------------------------------------


def test_a_line_starts_with_its_verdict_and_says_what_to_do() -> None:
    finding = Finding("key", Verdict.FAIL, "rejected (401)", "make a new key")
    assert finding.line() == "FAIL  key        rejected (401) | do: make a new key"
    assert Finding("org", Verdict.PASS, "answers").line() == "PASS  org        answers"


@pytest.mark.parametrize(
    ("found", "result", "code"),
    [
        pytest.param([Verdict.PASS, Verdict.PASS], Verdict.PASS, 0, id="all-pass"),
        pytest.param([Verdict.PASS, Verdict.WARN], Verdict.WARN, 0, id="a-warning-still-exits-0"),
        pytest.param([Verdict.WARN, Verdict.FAIL, Verdict.PASS], Verdict.FAIL, 1, id="one-fail"),
    ],
)
def test_the_verdict_and_exit_code(found: list[Verdict], result: Verdict, code: int) -> None:
    findings = [Finding("x", v, "y") for v in found]
    assert overall(findings) is result
    assert exit_code(findings) == code


def test_text_ends_with_the_counts_and_json_carries_the_estimate() -> None:
    findings = [Finding("key", Verdict.PASS, "ok"), Finding("lease", Verdict.WARN, "none", "start")]
    text = render_text("org o", findings, ["a note"])
    assert text.splitlines() == [
        "Preflight of org o",
        "PASS  key        ok",
        "WARN  lease      none | do: start",
        "note: a note",
        "Result: WARN (0 fail, 1 warn, 1 pass)",
    ]
    body = json.loads(render_json("org o", findings, estimate=estimate_sync(1000, 100)))
    assert body["result"] == "WARN"
    assert body["checks"][1] == {
        "check": "lease",
        "verdict": "WARN",
        "found": "none",
        "do": "start",
    }
    assert body["estimate"]["requestsPerSync"] == 21


# -- the estimate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("users", "v1", "v2"),
    [
        pytest.param(1000, 10, 11, id="bench-1000: 10 + 11"),
        pytest.param(10_000, 100, 101, id="bench-10000: 100 + 101"),
        pytest.param(0, 1, 2, id="an-empty-org-is-still-one-page-each"),
        pytest.param(101, 2, 3, id="one-user-over-a-page"),
    ],
)
def test_requests_per_sync_match_the_bench(users: int, v1: int, v2: int) -> None:
    estimate = estimate_sync(users, 100)
    assert (estimate.v1_pages, estimate.v2_pages, estimate.requests) == (v1, v2, v1 + v2)


def test_unmanaged_users_add_to_the_search_not_to_the_listing() -> None:
    estimate = estimate_sync(950, 50, unmanaged=150)
    assert estimate.v1_pages == 19
    assert estimate.v2_pages == 11 + 2  # 1,100 users at 100 a page, then 150 unmanaged
    assert estimate.accounts == 1100


def test_without_enrichment_only_the_listing_counts() -> None:
    assert estimate_sync(1000, 100, enrichment=False).requests == 10


def test_memory_follows_the_bench_model() -> None:
    # README "Sizing": about 14 KB per account plus 100 MiB; 780.5 MiB measured at 50,000.
    assert estimate_sync(0, 100).memory_mib == 100
    assert estimate_sync(50_000, 100).memory_mib == 780


def test_cost_warns_near_the_shipped_memory_limit() -> None:
    assert judge_cost(estimate_sync(10_000, 100), exact=True).verdict is Verdict.PASS
    large = judge_cost(estimate_sync(80_000, 100), exact=True)
    assert large.verdict is Verdict.WARN
    assert "1344Mi" in large.todo
    assert "at least 201 requests" in judge_cost(estimate_sync(10_000, 100), exact=False).found


# -- 1, 2: key and org --------------------------------------------------------------------------


def test_a_rejected_key_fails_the_key_line_alone() -> None:
    findings = judge_access(AuthenticationFailed("401"), "o", "https://x")
    assert verdicts(findings) == [("key", Verdict.FAIL)]
    assert "without scopes" in findings[0].todo


def test_a_forbidden_key_fails_naming_the_scopes() -> None:
    findings = judge_access(Forbidden("403", key="forbidden.insufficientScope"), "o", "https://x")
    assert verdicts(findings) == [("key", Verdict.FAIL)]
    assert "forbidden.insufficientScope" in findings[0].found


def test_an_unknown_org_passes_the_key_and_fails_the_org() -> None:
    findings = judge_access(OrgNotFound("no org"), "o", "https://x")
    assert verdicts(findings) == [("key", Verdict.PASS), ("org", Verdict.FAIL)]


def test_a_404_from_a_wrong_base_url_does_not_confirm_the_key() -> None:
    error = OrgNotFound("... the reply is not an Atlassian error body, so check the API base URL")
    findings = judge_access(error, "o", "https://x")
    assert verdicts(findings) == [("key", Verdict.WARN), ("org", Verdict.FAIL)]


def test_an_unreachable_atlassian_fails() -> None:
    assert verdicts(judge_access(AtlassianUnavailable("down"), "o", "u")) == [("key", Verdict.FAIL)]


# -- 3: the listings ------------------------------------------------------------------------------


def test_a_counted_listing_is_read_one_page_only() -> None:
    probe = ListingProbe([user(str(i)) for i in range(50)], 251, 1, 50, False, 10)
    finding = judge_listing(probe)
    assert finding.verdict is Verdict.PASS
    assert "251 users by its meta.total, 50 a page: a full sync reads 6 pages" in finding.found
    assert (probe.managed, probe.page_size) == (251, 50)


def test_an_uncounted_listing_says_it_was_cut_at_the_bound() -> None:
    probe = ListingProbe([user()], None, 10, 1000, False, 10)
    assert "the first 10 pages (the check's bound) held 1000 users" in judge_listing(probe).found
    assert probe.managed == 1000


def test_a_search_that_does_not_answer_warns_unless_enrichment_is_off() -> None:
    probe = SearchProbe(None, Forbidden("403"))
    assert judge_search(probe, enrichment=True, listed=10).verdict is Verdict.WARN
    assert judge_search(probe, enrichment=False, listed=10).verdict is Verdict.PASS
    bounded = judge_search(SearchProbe([], None, 500, False, 5), enrichment=True, listed=1000)
    assert "at least 500 unmanaged" in bounded.found
    # 1,500 users at 100 a page, then 500 unmanaged ones at 100 a page.
    assert "a full sync reads 20 pages of it" in bounded.found


# -- 4: the lifecycle permission ------------------------------------------------------------------


def test_the_sample_is_an_active_account_neither_synced_nor_admin() -> None:
    users = [user("closed", "closed"), user("synced"), user("admin"), user("plain")]
    directory = [
        DirectoryUser(account_id="synced", management_source="synced"),
        DirectoryUser(account_id="admin", platform_roles=("atlassian/org-admin",)),
    ]
    assert choose_sample(users, directory)[0] == "plain"
    assert choose_sample(users, None)[0] == "synced"  # without v2, the first active one
    assert choose_sample([user("x", "inactive")], None)[0] is None


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        pytest.param(LifecyclePermission(True), Verdict.PASS, id="allowed"),
        pytest.param(
            LifecyclePermission(False, "externalDirectory.scim"), Verdict.WARN, id="idp-synced"
        ),
        pytest.param(
            LifecyclePermission(False, "forbidden.targetUnverified"), Verdict.WARN, id="unmanaged"
        ),
        pytest.param(Forbidden("403"), Verdict.FAIL, id="key-refused"),
        pytest.param(AuthenticationFailed("401"), Verdict.FAIL, id="key-rejected"),
        pytest.param(AccountNotFound("404"), Verdict.WARN, id="sample-gone"),
        pytest.param(AtlassianUnavailable("5xx"), Verdict.FAIL, id="no-answer"),
        pytest.param(None, Verdict.WARN, id="not-asked"),
    ],
)
def test_lifecycle_verdicts(answer: Any, verdict: Verdict) -> None:
    assert judge_lifecycle("a1", "chosen", answer).verdict is verdict


# -- 5: the plan ----------------------------------------------------------------------------------


def test_unreadable_last_active_dates_warn_with_the_reason() -> None:
    findings = judge_plan([user(last_active="yesterday-ish", product_access=[])], None)
    assert findings[0].verdict is Verdict.WARN
    assert "LastActiveUnreadable" in findings[0].found


def test_no_last_active_dates_warn_that_inactivity_counts_from_first_observed() -> None:
    plain = [{**JIRA}]
    findings = judge_plan([user(last_active=None, product_access=plain)], None)
    assert findings[0].verdict is Verdict.WARN
    assert "status.firstObserved" in findings[0].found


def test_a_plan_with_every_fact_passes() -> None:
    directory = [
        DirectoryUser.model_validate(
            {"accountId": "a1", "managementSource": "invited", "platformRoles": []}
        )
    ]
    findings = judge_plan([user()], directory)
    assert [f.verdict for f in findings] == [Verdict.PASS] * 5
    assert "Jira Software (acme)" in findings[1].found


def test_a_search_without_roles_or_sources_warns() -> None:
    findings = judge_plan([user()], [DirectoryUser(account_id="a1")])
    assert [f.verdict for f in findings[3:]] == [Verdict.WARN, Verdict.WARN]
    assert "protectedAccounts" in findings[3].found


def test_no_products_and_no_billing_warn() -> None:
    findings = judge_plan([user(product_access=None, access_billable=None)], None)
    assert [f.verdict for f in findings[1:]] == [Verdict.WARN, Verdict.WARN]


# -- 6: the cluster -------------------------------------------------------------------------------


def crd(established: str = "True", versions: tuple[str, ...] = ("v1beta1",)) -> dict[str, Any]:
    return {
        "spec": {"versions": [{"name": v, "served": True} for v in versions]},
        "status": {"conditions": [{"type": "Established", "status": established}]},
    }


@pytest.mark.parametrize(
    ("states", "verdict", "said"),
    [
        pytest.param([CrdState("a", crd())], Verdict.PASS, "Established, serving v1beta1", id="ok"),
        pytest.param([CrdState("a", None)], Verdict.FAIL, "a is not installed", id="missing"),
        pytest.param(
            [CrdState("a", crd(established="False"))], Verdict.FAIL, "not Established", id="new"
        ),
        pytest.param(
            [CrdState("a", crd(versions=("v1alpha1",)))], Verdict.FAIL, "does not serve", id="old"
        ),
        pytest.param("refused (HTTP 403)", Verdict.WARN, "not checked", id="unreadable"),
    ],
)
def test_crd_verdicts(states: Any, verdict: Verdict, said: str) -> None:
    finding = judge_crds(states, "v1beta1")
    assert finding.verdict is verdict
    assert said in finding.found


def test_rbac_names_what_the_operator_may_not_do() -> None:
    needed = operator_permissions("g", "key-secret", discovery=True)
    assert str(needed[0]) == "get secrets 'key-secret'"
    assert "create atlassianaccounts.g" in [str(p) for p in needed]
    with_ledger = [str(p) for p in operator_permissions("g", "s", False, "atlassian-calls-1")]
    assert "patch configmaps 'atlassian-calls-1'" in with_ledger  # the org's call ledger
    assert "create configmaps" in with_ledger
    answers = [(p, p.resource != "secrets") for p in needed]
    failed = judge_rbac("system:serviceaccount:op:op", "team-a", answers)
    assert failed.verdict is Verdict.FAIL
    assert "may not get secrets 'key-secret' in namespace team-a" in failed.found
    assert judge_rbac("u", "n", [(p, True) for p in needed]).verdict is Verdict.PASS
    refused = judge_rbac("u", "n", "you may not create SubjectAccessReviews")
    assert refused.verdict is Verdict.WARN
    assert "kubectl auth can-i" in refused.todo
    assert Permission("patch", "atlassianorgs", "g", "status").__str__() == (
        "patch atlassianorgs/status.g"
    )


def lease(holder: str | None, renewed: datetime, duration: int = 15) -> dict[str, Any]:
    spec = {"holderIdentity": holder, "leaseDurationSeconds": duration}
    spec["renewTime"] = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"spec": spec}


@pytest.mark.parametrize(
    ("found", "verdict", "said"),
    [
        pytest.param(lease("op-1", NOW - timedelta(seconds=3)), Verdict.PASS, "held by op-1",
                     id="fresh"),
        pytest.param(lease("op-1", NOW - timedelta(minutes=5)), Verdict.WARN,
                     "last renewed 300s ago", id="stale"),
        pytest.param(lease(None, NOW), Verdict.WARN, "released", id="released"),
        pytest.param(None, Verdict.WARN, "no operator holds it", id="absent"),
        pytest.param("refused (HTTP 403)", Verdict.WARN, "not checked", id="unreadable"),
    ],
)  # fmt: skip
def test_lease_verdicts(found: Any, verdict: Verdict, said: str) -> None:
    finding = judge_lease("ns/atlassian-operator", found, NOW)
    assert finding.verdict is verdict
    assert said in finding.found


def test_an_unlabelled_secret_fails_with_the_command_that_labels_it() -> None:
    finding = judge_secret_label("key", "team-a", {})
    assert finding.verdict is Verdict.FAIL
    assert (
        finding.todo == 'kubectl label secret key -n team-a atlassian.operators.dev/api-key="true"'
    )
    ok = judge_secret_label("key", "team-a", {"atlassian.operators.dev/api-key": "true"})
    assert ok.verdict is Verdict.PASS


# -- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        pytest.param(["check"], "nothing to check", id="nothing"),
        pytest.param(["check", "acme", "--org-id", "o"], "not both", id="both"),
        pytest.param(["check", "--org-id", "o"], "--org-id needs --api-key-file", id="no-key"),
        pytest.param(["check", "--org-id", " "], "--org-id is empty", id="empty-org-id"),
        pytest.param(
            ["check", "--org-id", "o", "--api-key-file", "/nonexistent/key", "--no-cluster"],
            "cannot read the API key from /nonexistent/key",
            id="unreadable-key",
        ),
    ],
)
def test_usage_errors_exit_2_and_say_what_to_do(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert said in capsys.readouterr().err


def test_an_unknown_flag_exits_2() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--no-such-flag"])
    assert exited.value.code == 2


def test_a_key_with_whitespace_is_refused_without_echoing_it(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key"
    key.write_text("secret-part-one secret-part-two")
    code = main(["check", "--org-id", "o", "--api-key-file", str(key), "--no-cluster"])
    err = capsys.readouterr().err
    assert code == 2
    assert "whitespace" in err
    assert "secret-part" not in err


# -- how much of a listing the check reads -------------------------------------------------------


def listing_server(pages: int | None, total: int | None, requested: list[str]) -> Any:
    """A v1 listing of `pages` pages of two users (None: endless), with or without meta.total."""
    import httpx

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        number = int(request.url.params.get("cursor", "1"))
        body: dict[str, Any] = {
            "data": [
                {
                    "account_id": f"u{number}-{i}",
                    "account_type": "atlassian",
                    "account_status": "active",
                    "name": "n",
                    "picture": "p",
                }
                for i in range(2)
            ],
            "links": {},
        }
        if total is not None:
            body["meta"] = {"total": total}
        if pages is None or number < pages:
            body["links"]["next"] = str(number + 1)
        return httpx.Response(200, json=body)

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("pages", "total", "read", "complete", "managed"),
    [
        pytest.param(500, 1000, 1, False, 1000, id="counted: the first page says enough"),
        pytest.param(3, None, 3, True, 6, id="uncounted and short: read to the end"),
        pytest.param(None, None, 10, False, 20, id="uncounted and endless: cut at the bound"),
    ],
)
async def test_the_check_reads_a_listing_no_further_than_it_must(
    pages: int | None, total: int | None, read: int, complete: bool, managed: int
) -> None:
    from atlassian_operator.atlassian import AtlassianClient
    from atlassian_operator.report.check_atlassian import LISTING_BOUND, _read_listing

    requested: list[str] = []
    transport = listing_server(pages, total, requested)
    async with AtlassianClient("k" * 20, base_url="https://api.test", transport=transport) as c:
        probe = await _read_listing(c, "o")
    assert len(requested) == probe.pages_read == read <= LISTING_BOUND
    assert (probe.complete, probe.managed, probe.total) == (complete, managed, total)
