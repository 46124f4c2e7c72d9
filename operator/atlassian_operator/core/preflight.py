"""The verdicts of `kubectl atlassian check`, decided from what the probes saw, and their lines.

Pure: the probes (report/check_atlassian.py, report/check_cluster.py) read Atlassian and the
cluster; everything here only judges what they read, so that each verdict is tested without a
network. One `Finding` is one output line: PASS, WARN or FAIL, what was found, and what to do.
A FAIL means a first sync would fail or act wrongly; a WARN means it would work with less (a
fact the operator degrades without, a check that could not be made).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianError,
    AuthenticationFailed,
    DirectoryUser,
    Forbidden,
    LifecyclePermission,
    OrgNotFound,
    UnreadableTime,
    User,
    newest_time,
    restriction_advice,
)
from atlassian_operator.atlassian.v2_choices import SEARCH_PAGE_LIMIT
from atlassian_operator.core.sizing import (
    BENCH_RUN,
    MEMORY_WARN_SHARE,
    SyncEstimate,
    estimate_sync,
    pages,
)

DEFAULT_BASE_URL = "https://api.atlassian.com"
NEW_KEY = (
    "create an org API key at admin.atlassian.com (Settings > API keys) as an admin of this "
    "organization, without scopes (the lifecycle calls refuse scoped keys), and put it in the "
    "Secret the AtlassianOrg names (or pass it with --api-key-file)"
)


class Verdict(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    """One line of the check: which check, its verdict, what was found, what to do."""

    check: str
    verdict: Verdict
    found: str
    todo: str = ""

    def line(self) -> str:
        """`FAIL  key        <found> | do: <todo>`: verdict first, so `grep ^FAIL` finds them."""
        text = f"{self.verdict.value:<4}  {self.check:<9}  {self.found}"
        return f"{text} | do: {self.todo}" if self.todo else text

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "verdict": self.verdict.value, "found": self.found,
                "do": self.todo}  # fmt: skip


def overall(findings: Iterable[Finding]) -> Verdict:
    """FAIL if any line fails, else WARN if any warns, else PASS."""
    verdicts = {f.verdict for f in findings}
    for verdict in (Verdict.FAIL, Verdict.WARN):
        if verdict in verdicts:
            return verdict
    return Verdict.PASS


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when nothing fails (warnings included), 1 otherwise."""
    return 1 if overall(findings) is Verdict.FAIL else 0


def summary(findings: Sequence[Finding]) -> str:
    counts = {v: sum(1 for f in findings if f.verdict is v) for v in Verdict}
    return (
        f"Result: {overall(findings).value} ({counts[Verdict.FAIL]} fail, "
        f"{counts[Verdict.WARN]} warn, {counts[Verdict.PASS]} pass)"
    )


def render_text(subject: str, findings: Sequence[Finding], notes: Sequence[str] = ()) -> str:
    """The terminal output: a heading, one line per finding, notes, and the result."""
    lines = [f"Preflight of {subject}", *(f.line() for f in findings)]
    lines += [f"note: {note}" for note in notes]
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"


def render_json(
    subject: str,
    findings: Sequence[Finding],
    notes: Sequence[str] = (),
    estimate: SyncEstimate | None = None,
) -> str:
    body: dict[str, Any] = {
        "subject": subject,
        "result": overall(findings).value,
        "checks": [f.to_json() for f in findings],
        "notes": list(notes),
    }
    if estimate is not None:
        body["estimate"] = {
            "accounts": estimate.accounts,
            "v1Pages": estimate.v1_pages,
            "v2Pages": estimate.v2_pages,
            "requestsPerSync": estimate.requests,
            "memoryMiB": estimate.memory_mib,
            "quietSyncCpuSeconds": round(estimate.quiet_sync_cpu_seconds, 3),
            "model": BENCH_RUN,
        }
    return json.dumps(body, indent=2) + "\n"


# -- 1 and 2: the key and the org ---------------------------------------------------------------


def judge_access(error: AtlassianError | None, org_id: str, base_url: str) -> list[Finding]:
    """Lines `key` and `org`, from the first page of the v1 listing (None: it answered)."""
    if error is None:
        return [
            Finding("key", Verdict.PASS, f"Atlassian at {base_url} accepted the API key"),
            Finding("org", Verdict.PASS, f"organization {org_id} answers for this key"),
        ]
    if isinstance(error, AuthenticationFailed):
        return [
            Finding(
                "key", Verdict.FAIL,
                f"Atlassian at {base_url} rejected the API key (401): it is invalid, expired or "
                "revoked",
                f"{NEW_KEY}; then run this check again",
            )
        ]  # fmt: skip
    if isinstance(error, Forbidden):
        return [
            Finding(
                "key", Verdict.FAIL,
                f"the API key was refused for organization {org_id} (403 {error.key}): it may "
                "not read the org's users",
                NEW_KEY,
            )
        ]  # fmt: skip
    if isinstance(error, OrgNotFound):
        wrong_path = "not an Atlassian error body" in error.message
        key = (
            Finding(
                "key", Verdict.WARN,
                f"not confirmed: {base_url} answered 404 without an Atlassian error body",
                f"check the API base URL (spec.apiBaseURL, default {DEFAULT_BASE_URL})",
            )
            if wrong_path
            else Finding("key", Verdict.PASS, f"Atlassian at {base_url} accepted the API key")
        )  # fmt: skip
        return [
            key,
            Finding(
                "org", Verdict.FAIL,
                f"no organization {org_id} for this key (404)",
                "check spec.orgId (or --org-id): the ID in admin.atlassian.com/o/<org id>/..., "
                "and that the key was created in that organization",
            ),
        ]  # fmt: skip
    return [
        Finding(
            "key", Verdict.FAIL,
            f"Atlassian did not answer the v1 listing: {error}",
            "check the API base URL and the network path to it, then run this check again",
        )
    ]  # fmt: skip


# -- 3: the listings and the pages of a sync ----------------------------------------------------


@dataclass(frozen=True)
class ListingProbe:
    """What the check read of the v1 listing: its first pages, never more than its bound."""

    first_page: Sequence[User]
    #: meta.total of the first page; None when Atlassian did not count.
    total: int | None
    pages_read: int
    users_read: int
    #: The last page read links to no next one: everything was read.
    complete: bool
    #: The most pages read when there is no meta.total.
    bound: int

    @property
    def page_size(self) -> int:
        """Users a page, as Atlassian served them: the first page's size when more follow."""
        return max(len(self.first_page), 1)

    @property
    def managed(self) -> int:
        """The users of the v1 listing: counted by Atlassian, else those read (a lower bound)."""
        return self.total if self.total is not None else self.users_read


def judge_listing(probe: ListingProbe) -> Finding:
    if probe.total is not None:
        how = f"{probe.total} users by its meta.total"
        if probe.complete:
            how += f", all on {probe.pages_read} page{'s' if probe.pages_read != 1 else ''}"
        else:
            count = pages(probe.total, probe.page_size)
            how += (
                f", {probe.page_size} a page: a full sync reads {count} "
                f"page{'s' if count != 1 else ''} of it (the check read the first)"
            )
    elif probe.complete:
        how = (
            f"no meta.total, so every page was read: {probe.users_read} users on "
            f"{probe.pages_read} page{'s' if probe.pages_read != 1 else ''}"
        )
    else:
        return Finding(
            "listing", Verdict.PASS,
            f"the v1 listing answers, without meta.total: the first {probe.pages_read} pages "
            f"(the check's bound) held {probe.users_read} users and more follow, so a sync "
            "reads more pages than the estimate below counts",
        )  # fmt: skip
    return Finding("listing", Verdict.PASS, f"the v1 listing answers: {how}")


@dataclass(frozen=True)
class SearchProbe:
    """The first page of the v2 search of every user, and the count of unmanaged users."""

    first_page: Sequence[DirectoryUser] | None
    error: AtlassianError | None
    unmanaged: int = 0
    unmanaged_complete: bool = True
    unmanaged_pages: int = 0


def judge_search(probe: SearchProbe, enrichment: bool, listed: int) -> Finding:
    """Line `search`; `listed`: the users of the v1 listing, whom the search returns too."""
    if probe.error is not None:
        if not enrichment:
            return Finding(
                "search", Verdict.PASS,
                f"the v2 search does not answer ({probe.error}); spec.enrichment.enabled is "
                "false, so the operator does not use it",
            )  # fmt: skip
        return Finding(
            "search", Verdict.WARN,
            f"the v2 user search does not answer: {probe.error}. The operator then runs "
            "without enrichment (condition Enriched=False): org admins are protected only by "
            "spec.suspension.protectedAccounts, and accounts of an identity provider or "
            "unmanaged ones are found only by the permission check before each call",
            "use an org API key of an organization with the v2 user APIs (centralized user "
            "management), or set spec.enrichment.enabled: false to stop asking",
        )  # fmt: skip
    unmanaged = (
        f"{probe.unmanaged} unmanaged"
        if probe.unmanaged_complete
        else f"at least {probe.unmanaged} unmanaged (the first {probe.unmanaged_pages} pages, the "
        "check's bound)"
    )
    shown = len(probe.first_page or ())
    if enrichment:
        count = estimate_sync(listed, 1, probe.unmanaged).v2_pages  # the v1 page size is moot
        used = (
            f"; a full sync reads {count} pages of it (every user at {SEARCH_PAGE_LIMIT} a "
            "page, then the unmanaged ones)"
        )
    else:
        used = "; spec.enrichment.enabled is false, so the operator skips it"
    return Finding(
        "search", Verdict.PASS,
        f"the v2 user search answers: {shown} users on its first page, {unmanaged} users "
        f"(whom the v1 listing leaves out){used}",
    )  # fmt: skip


# -- 4: the lifecycle privilege for a sample account ------------------------------------------


def choose_sample(
    users: Sequence[User], directory: Sequence[DirectoryUser] | None
) -> tuple[str | None, str]:
    """An account to ask the permission check about, and why that one.

    An active account of the first v1 page, preferring one the v2 search does not name as
    synced from an identity provider or as an admin: those are refused for reasons of their
    own, which would hide whether the key itself may act.
    """
    facts = {u.account_id: u for u in directory or ()}
    active = [u for u in users if u.account_status == "active"]

    def plain(user: User) -> bool:
        fact = facts.get(user.account_id)
        return fact is None or (fact.management_source != "synced" and not fact.platform_roles)

    for user in active:
        if plain(user):
            return user.account_id, "the first active account of the listing"
    if active:
        return active[0].account_id, "the first active account (every one on the first page " \
            "is an admin or synced from an identity provider)"  # fmt: skip
    return None, "no active account on the first page of the listing"


def judge_lifecycle(
    sample: str | None, why: str, answer: LifecyclePermission | AtlassianError | None
) -> Finding:
    """Line `lifecycle`: may the key disable and enable `sample` (asked, never done)?"""
    if sample is None or answer is None:
        return Finding(
            "lifecycle", Verdict.WARN,
            f"not asked: {why}",
            "pass --sample-account ACCOUNT_ID with an active account of the org",
        )  # fmt: skip
    asked = f"account {sample} ({why})"
    if isinstance(answer, LifecyclePermission):
        if answer.allowed:
            return Finding(
                "lifecycle", Verdict.PASS,
                f"the key may suspend and re-activate {asked}: the user management API's "
                "permission check allows lifecycle.enablement (no lifecycle call was made)",
            )  # fmt: skip
        return Finding(
            "lifecycle", Verdict.WARN,
            f"the key may not suspend {asked}: {answer.reason}: "
            f"{restriction_advice(answer.reason or '')}. The operator leaves such accounts "
            "alone (Ready=False with the reason)",
            "to check the key itself, pass --sample-account with an account invited to the org "
            "(not synced from an identity provider, not an admin)",
        )  # fmt: skip
    if isinstance(answer, AuthenticationFailed | Forbidden):
        label = f"403 {answer.key}" if isinstance(answer, Forbidden) else "401"
        return Finding(
            "lifecycle", Verdict.FAIL,
            f"the user management API refused the permission check for {asked} ({label}): "
            "the operator could not suspend anyone",
            NEW_KEY,
        )  # fmt: skip
    if isinstance(answer, AccountNotFound):
        return Finding(
            "lifecycle", Verdict.WARN,
            f"the user management API knows no {asked} (404)",
            "pass --sample-account with an account ID of the org",
        )  # fmt: skip
    return Finding(
        "lifecycle", Verdict.FAIL,
        f"the permission check for {asked} failed: {answer}",
        "check the network path to Atlassian and run this check again",
    )  # fmt: skip


# -- 5: what the org's plan provides -----------------------------------------------------------


def judge_plan(users: Sequence[User], directory: Sequence[DirectoryUser] | None) -> list[Finding]:
    """Lines `plan`: the optional facts the operator uses, as the first pages show them."""
    if not users:
        return [
            Finding(
                "plan", Verdict.WARN,
                "the listing's first page has no users, so nothing shows what the plan provides",
            )
        ]  # fmt: skip
    findings = [_last_active(users), _products(users), _billable(users)]
    if directory:
        findings += [_admin_roles(directory), _identity_provider(directory)]
    return findings


def _last_active(users: Sequence[User]) -> Finding:
    times = [
        newest_time([u.last_active, *(p.last_active for p in u.product_access)]) for u in users
    ]
    unreadable = [t for t in times if isinstance(t, UnreadableTime)]
    dated = sum(1 for t in times if isinstance(t, datetime))
    if unreadable:
        return Finding(
            "plan", Verdict.WARN,
            f"last-active dates: {len(unreadable)} of {len(users)} users on the first page have "
            f"one the operator cannot read (e.g. {unreadable[0]}): their accounts are Ready "
            "with reason LastActiveUnreadable and the inactivity policy never suspends them",
            "report the date layout (issue tracker); suspend such accounts by hand if needed",
        )  # fmt: skip
    if dated == 0:
        return Finding(
            "plan", Verdict.WARN,
            f"last-active dates: none of the {len(users)} users on the first page has one: "
            "LAST-ACTIVE stays empty, and the inactivity policy (spec.inactivity) counts from "
            "when the operator first observed each account (status.firstObserved)",
            "expect no last-active dates on this plan; licence reclaim by inactivity starts "
            "counting at the first sync",
        )  # fmt: skip
    return Finding(
        "plan",
        Verdict.PASS,
        f"last-active dates: {dated} of {len(users)} users on the first page have one",
    )


def _products(users: Sequence[User]) -> Finding:
    labels = sorted({f"{p.name} ({_site(p.url)})" for u in users for p in u.product_access})
    if not labels:
        return Finding(
            "plan", Verdict.WARN,
            "product access: no user on the first page has any: PRODUCTS and `kubectl "
            "atlassian who-has` stay empty",
            "check that the key's organization holds the products' sites",
        )  # fmt: skip
    shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
    return Finding("plan", Verdict.PASS, f"product access per site: {shown}")


def _site(url: str | None) -> str:
    host = (url or "").split("://", 1)[-1].split("/", 1)[0]
    return host.split(".", 1)[0] or "?"


def _billable(users: Sequence[User]) -> Finding:
    known = sum(1 for u in users if u.access_billable is not None)
    if known == 0:
        return Finding(
            "plan", Verdict.WARN,
            "billable flag: no user on the first page says whether they are billed: "
            "status.users.billable counts 0 and licence savings cannot be shown",
        )  # fmt: skip
    return Finding("plan", Verdict.PASS, f"billable flag: given for {known} of {len(users)} users")


def _admin_roles(directory: Sequence[DirectoryUser]) -> Finding:
    given = [u for u in directory if "platform_roles" in u.model_fields_set]
    if not given:
        return Finding(
            "plan", Verdict.WARN,
            "admin roles: the v2 search gives no platformRoles: org admins are not recognised, "
            "and are protected only by spec.suspension.protectedAccounts",
            "list the org's admins in spec.suspension.protectedAccounts",
        )  # fmt: skip
    admins = sum(1 for u in given if u.platform_roles)
    return Finding(
        "plan", Verdict.PASS,
        f"admin roles: given for {len(given)} users of the search's first page ({admins} of "
        "them admins): the operator recognises org and site admins and does not suspend them",
    )  # fmt: skip


def _identity_provider(directory: Sequence[DirectoryUser]) -> Finding:
    known = [u for u in directory if u.management_source is not None]
    if not known:
        return Finding(
            "plan", Verdict.WARN,
            "identity provider: the v2 search does not say which accounts an identity provider "
            "syncs: such accounts are found only when the permission check before a call "
            "refuses it (ManagedByIdentityProvider)",
        )  # fmt: skip
    synced = sum(1 for u in known if u.management_source == "synced")
    return Finding(
        "plan", Verdict.PASS,
        f"identity provider: told for {len(known)} of {len(directory)} users ({synced} synced "
        "from an identity provider, which the operator does not suspend)",
    )  # fmt: skip


# -- 6: the cluster ----------------------------------------------------------------------------


def judge_secret_label(secret: str, namespace: str, labels: Mapping[str, str]) -> Finding:
    label = "atlassian.operators.dev/api-key"
    if labels.get(label) == "true":
        return Finding("secret", Verdict.PASS, f"Secret {namespace}/{secret} is labelled {label}")
    return Finding(
        "secret", Verdict.FAIL,
        f"Secret {namespace}/{secret} lacks the label {label}=true: the operator does not use "
        "a Secret without it",
        f'kubectl label secret {secret} -n {namespace} {label}="true"',
    )  # fmt: skip


@dataclass(frozen=True)
class CrdState:
    name: str
    #: None: not installed.
    crd: Mapping[str, Any] | None


def judge_crds(crds: Sequence[CrdState] | str, version: str) -> Finding:
    """Line `crds`; `crds` is a problem text when they could not be read."""
    install = "kubectl apply -k crds/ from the release (or install the operator's chart)"
    if isinstance(crds, str):
        return Finding(
            "crds", Verdict.WARN, f"not checked: {crds}",
            "ask for get on customresourcedefinitions, or `kubectl get crd` as an admin",
        )  # fmt: skip
    problems = []
    for state in crds:
        if state.crd is None:
            problems.append(f"{state.name} is not installed")
            continue
        conditions = (state.crd.get("status") or {}).get("conditions") or ()
        established = any(
            c.get("type") == "Established" and c.get("status") == "True" for c in conditions
        )
        served = [
            v.get("name")
            for v in (state.crd.get("spec") or {}).get("versions") or ()
            if v.get("served")
        ]
        if not established:
            problems.append(f"{state.name} is not Established")
        if version not in served:
            problems.append(f"{state.name} does not serve {version} (serves {served})")
    if problems:
        return Finding("crds", Verdict.FAIL, "; ".join(problems), install)
    names = ", ".join(s.name for s in crds)
    return Finding("crds", Verdict.PASS, f"{names}: Established, serving {version}")


@dataclass(frozen=True)
class Permission:
    """One thing the operator does in the org's namespace."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""

    def __str__(self) -> str:
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        if self.group:
            what += f".{self.group}"
        return f"{self.verb} {what}" + (f" {self.name!r}" if self.name else "")


def operator_permissions(
    group: str, secret: str | None, discovery: bool, ledger: str | None = None
) -> list[Permission]:
    """What the operator's ServiceAccount must be allowed in the org's namespace (the rules of
    manifests/base: clusterrole.yaml and secret-access.yaml); `ledger`: the name of the org's
    call ledger (core/ledger.py), when the orgId is known."""
    needed = [
        Permission("get", "secrets", name=secret or ""),
        Permission("get", "configmaps", name=ledger or ""),
        Permission("create", "configmaps"),
        Permission("patch", "configmaps", name=ledger or ""),
        Permission("list", "atlassianorgs", group),
        Permission("watch", "atlassianorgs", group),
        Permission("list", "atlassianaccounts", group),
        Permission("watch", "atlassianaccounts", group),
        Permission("patch", "atlassianorgs", group, "status"),
        Permission("patch", "atlassianaccounts", group, "status"),
        Permission("create", "events"),
    ]
    if discovery:
        needed.append(Permission("create", "atlassianaccounts", group))
    return needed


def judge_rbac(
    user: str, namespace: str, answers: Sequence[tuple[Permission, bool]] | str
) -> Finding:
    """Line `rbac`; `answers` is a problem text when the SubjectAccessReviews were refused."""
    if isinstance(answers, str):
        return Finding(
            "rbac", Verdict.WARN,
            f"not checked: {answers}",
            f"ask a cluster admin to run `kubectl auth can-i --list --as={user} -n {namespace}`",
        )  # fmt: skip
    denied = [str(p) for p, allowed in answers if not allowed]
    if denied:
        return Finding(
            "rbac", Verdict.FAIL,
            f"{user} may not {', '.join(denied)} in namespace {namespace}",
            f"grant Secret access in {namespace}: add it to manifests/base/secret-namespaces.yaml "
            "(Helm: secretAccess.namespaces), and apply the operator's RBAC; or pass "
            "--operator-namespace/--operator-service-account if the operator runs as another",
        )  # fmt: skip
    return Finding(
        "rbac",
        Verdict.PASS,
        f"{user} may do all {len(answers)} things the operator does in namespace {namespace}",
    )


def judge_lease(where: str, lease: Mapping[str, Any] | str | None, now: datetime) -> Finding:
    """Line `lease`: does an operator hold the leader-election Lease, and renew it?"""
    run = "install and start the operator (its Deployment runs with --leader-election)"
    if isinstance(lease, str):
        return Finding("lease", Verdict.WARN, f"not checked: {lease}", "")
    if lease is None:
        return Finding(
            "lease", Verdict.WARN,
            f"no Lease {where}: no operator holds it, so nothing will sync",
            f"{run}; or pass --operator-namespace/--lease-name if it runs elsewhere",
        )  # fmt: skip
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    if not holder:
        return Finding(
            "lease", Verdict.WARN, f"Lease {where} is released: no operator holds it", run
        )
    renewed = _parse_time(spec.get("renewTime"))
    duration = float(spec.get("leaseDurationSeconds") or 15)
    if renewed is None:
        return Finding("lease", Verdict.WARN, f"Lease {where} held by {holder}, never renewed", run)
    age = (now - renewed).total_seconds()
    if age > duration:
        return Finding(
            "lease", Verdict.WARN,
            f"Lease {where} held by {holder} was last renewed {age:.0f}s ago, more than its "
            f"{duration:.0f}s: that operator has stopped or cannot reach the API server",
            "check the operator's Pods and their logs "
            "(kubectl -n <ns> logs deploy/atlassian-operator)",
        )  # fmt: skip
    return Finding(
        "lease",
        Verdict.PASS,
        f"Lease {where} is held by {holder}, renewed {max(age, 0):.0f}s ago",
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- 7: the cost ------------------------------------------------------------------------------


def judge_cost(estimate: SyncEstimate, exact: bool) -> Finding:
    approx = "" if exact else "at least "
    found = (
        f"a full sync makes {approx}{estimate.requests} requests ({estimate.v1_pages} v1 pages + "
        f"{estimate.v2_pages} v2 pages) for {approx}{estimate.accounts} accounts; the operator "
        f"needs about {estimate.memory_mib} MiB and "
        f"{_seconds(estimate.quiet_sync_cpu_seconds)} of CPU per quiet sync "
        f"(model: {BENCH_RUN})"
    )
    if estimate.memory_share > MEMORY_WARN_SHARE:
        return Finding(
            "cost", Verdict.WARN, found,
            f"that is {estimate.memory_share:.0%} of the shipped 1344Mi memory limit: raise "
            "resources.limits.memory, or shard the orgs over several operators",
        )  # fmt: skip
    return Finding("cost", Verdict.PASS, found)


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
