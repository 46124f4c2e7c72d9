"""`kubectl atlassian check` (and `atlassian-operator check`): the preflight before a first sync.

Read-only: it reads the AtlassianOrg, its Secret, the CRDs and the operator's Lease; asks the API
server what the operator may do (SubjectAccessReviews, which store nothing); and asks Atlassian
a few reads (check_atlassian.py). It never calls a lifecycle endpoint and never writes an object.
Exit code 0 when no line fails, 1 when one does, 2 when the check cannot run (usage, no key).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atlassian_operator.atlassian import scrub_key
from atlassian_operator.core.ledger import ledger_name
from atlassian_operator.core.preflight import (
    DEFAULT_BASE_URL,
    Finding,
    exit_code,
    judge_cost,
    judge_crds,
    judge_lease,
    judge_rbac,
    judge_secret_label,
    operator_permissions,
    render_json,
    render_text,
)
from atlassian_operator.core.resources import GROUP, VERSION
from atlassian_operator.core.sizing import SyncEstimate, estimate_sync
from atlassian_operator.report.check_atlassian import AtlassianReport
from atlassian_operator.report.check_cluster import OrgInput
from atlassian_operator.report.cluster import Cluster, ReportError

USAGE_ERROR = 2
OPERATOR_NAMESPACE = "atlassian-operator"
OPERATOR_SERVICE_ACCOUNT = "atlassian-operator"
LEASE_NAME = "atlassian-operator"  # runner.py's --leader-election-id default


def add_command(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="preflight before the first sync: the key, the org, the listings, the lifecycle "
        "permission, the plan's facts, the CRDs, RBAC and Lease, and a sync's cost",
        description="Checks, read-only, what a first sync needs: an AtlassianOrg of the cluster "
        "(ORG -n NS: its spec and its API-key Secret, read with your kubeconfig) or an org "
        "given by flags (--org-id, --api-key-file). Each line is PASS, WARN or FAIL with what "
        "was found and what to do. Never calls a lifecycle endpoint, never writes to "
        "Kubernetes. Exit code 0 when no line fails, 1 when one does, 2 for usage errors.",
    )
    check.add_argument("org", metavar="ORG", nargs="?", help="an AtlassianOrg in the namespace")
    check.add_argument("-n", "--namespace", help="the org's namespace (default: the context's)")
    check.add_argument("--org-id", metavar="ID", help="check an org by ID, without an AtlassianOrg")
    check.add_argument(
        "--api-key-file",
        metavar="PATH",
        help="read the org API key from PATH ('-': standard input) instead of the org's Secret",
    )
    check.add_argument(
        "--api-base-url",
        metavar="URL",
        help=f"with --org-id: the Atlassian API base URL (default {DEFAULT_BASE_URL})",
    )
    check.add_argument(
        "--sample-account",
        metavar="ACCOUNT_ID",
        help="the account to ask the lifecycle permission about (default: the first active "
        "account of the listing that is neither an admin nor synced from an identity provider)",
    )
    check.add_argument(
        "--operator-namespace",
        default=OPERATOR_NAMESPACE,
        metavar="NS",
        help="where the operator runs: its ServiceAccount and Lease "
        f"(default {OPERATOR_NAMESPACE})",
    )
    check.add_argument(
        "--operator-service-account",
        default=OPERATOR_SERVICE_ACCOUNT,
        metavar="NAME",
        help=f"the operator's ServiceAccount (default {OPERATOR_SERVICE_ACCOUNT})",
    )
    check.add_argument(
        "--lease-name",
        default=LEASE_NAME,
        metavar="NAME",
        help=f"the operator's leader-election Lease (default {LEASE_NAME})",
    )
    check.add_argument(
        "--no-cluster", action="store_true", help="with --org-id: skip the cluster's checks"
    )
    check.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG)")
    check.add_argument("--context", help="the kubeconfig context (default: the current one)")
    check.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    check.set_defaults(main=_main)


def _main(args: argparse.Namespace) -> int:
    key = ""
    try:
        text, code, key = _check(args)
    except ReportError as exc:
        # CheckInputError and ReportError alike: the check could not start.
        print(f"error: {scrub_key(str(exc), key) if key else exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    sys.stdout.write(text)
    sys.stdout.flush()
    return code


def _check(args: argparse.Namespace) -> tuple[str, int, str]:
    """The output, the exit code and the key (for the scrub), or a ReportError."""
    from atlassian_operator.report import check_cluster

    _validate(args)
    cluster: Cluster | None = None
    org: OrgInput | None = None
    key = ""
    findings_after: list[Finding] = []
    notes: list[str] = []
    try:
        if args.org is not None or not args.no_cluster:
            cluster = _connect(args, required=args.org is not None)
        namespace = args.namespace or (cluster.default_namespace if cluster else "default")
        if args.org is not None:
            assert cluster is not None
            org = check_cluster.read_org(cluster, namespace, args.org)
        if args.api_key_file is not None:
            key = _read_key_file(args.api_key_file)
        elif org is not None:
            assert cluster is not None
            key, labels = check_cluster.read_secret(cluster, org)
            findings_after.append(judge_secret_label(org.secret_name, namespace, labels))
        if cluster is not None:
            findings_after += _cluster_findings(args, cluster, namespace, org)
        else:
            why = "--no-cluster" if args.no_cluster else "no kubeconfig found"
            notes.append(f"{why}: the CRDs, RBAC and Lease were not checked")
    finally:
        if cluster is not None:
            cluster.close()

    org_id = org.org_id if org else str(args.org_id)
    base_url = org.base_url if org else (args.api_base_url or DEFAULT_BASE_URL)
    subject = (
        f"AtlassianOrg {org.namespace}/{org.name} (org {org_id} at {base_url})"
        if org
        else f"org {org_id} at {base_url}"
    )
    report = _ask_atlassian(key, org_id, base_url, args, org)
    findings = [*report.findings, *findings_after]
    estimate = _estimate(report, org)
    if estimate is not None:
        exact = report.listing is not None and (
            report.listing.total is not None or report.listing.complete
        )
        findings.append(judge_cost(estimate, exact))
    if args.output == "json":
        text = render_json(subject, findings, notes, estimate)
    else:
        text = render_text(subject, findings, notes)
    # The key is in no message by construction; this is the last line of defence.
    return scrub_key(text, key), exit_code(findings), key


def _validate(args: argparse.Namespace) -> None:
    if (args.org is None) == (args.org_id is None):
        raise ReportError(
            "name an AtlassianOrg (check ORG -n NS) or an org ID (--org-id ID --api-key-file "
            "PATH), not both"
            if args.org is not None
            else "nothing to check: name an AtlassianOrg (check ORG -n NS), or give --org-id ID "
            "--api-key-file PATH"
        )
    if args.org_id is not None and not args.org_id.strip():
        raise ReportError("--org-id is empty: give the organization's ID")
    if args.org_id is not None and args.api_key_file is None:
        raise ReportError("--org-id needs --api-key-file PATH ('-' reads the key from stdin)")
    if args.org is not None and (args.api_base_url or args.no_cluster):
        raise ReportError(
            "--api-base-url and --no-cluster go with --org-id; an AtlassianOrg's own "
            "spec.apiBaseURL is used"
        )


def _connect(args: argparse.Namespace, *, required: bool) -> Cluster | None:
    try:
        return Cluster(args.kubeconfig, args.context)
    except ReportError:
        if required:
            raise
        return None


def _read_key_file(path: str) -> str:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ReportError(f"cannot read the API key from {path}: {reason}") from None
    if not text.strip():
        raise ReportError(f"the API key file {path} is empty")
    return text.strip()


def _cluster_findings(
    args: argparse.Namespace, cluster: Cluster, namespace: str, org: OrgInput | None
) -> list[Finding]:
    from atlassian_operator.report import check_cluster

    findings = [judge_crds(check_cluster.read_crds(cluster), VERSION)]
    user = f"system:serviceaccount:{args.operator_namespace}:{args.operator_service_account}"
    needed = operator_permissions(
        GROUP, org.secret_name if org else None, bool(org and org.discovery),
        ledger_name(org.org_id) if org else None,
    )  # fmt: skip
    answers = check_cluster.review_access(cluster, user, namespace, needed)
    findings.append(judge_rbac(user, namespace, answers))
    lease = check_cluster.read_lease(cluster, args.operator_namespace, args.lease_name)
    where = f"{args.operator_namespace}/{args.lease_name}"
    findings.append(judge_lease(where, lease, datetime.now(UTC)))
    return findings


def _ask_atlassian(
    key: str, org_id: str, base_url: str, args: argparse.Namespace, org: OrgInput | None
) -> AtlassianReport:
    from atlassian_operator.report.check_atlassian import new_client, probe_atlassian

    try:
        client = new_client(key, base_url)
    except ValueError as exc:
        raise ReportError(str(exc)) from None

    async def probe() -> AtlassianReport:
        async with client:
            return await probe_atlassian(
                client,
                org_id,
                sample_account=args.sample_account,
                enrichment=org.enrichment if org else True,
            )

    return asyncio.run(probe())


def _estimate(report: AtlassianReport, org: OrgInput | None) -> SyncEstimate | None:
    listing, search = report.listing, report.search
    if listing is None:
        return None
    unmanaged = search.unmanaged if search is not None and search.error is None else 0
    return estimate_sync(
        listing.managed, listing.page_size, unmanaged, enrichment=org.enrichment if org else True
    )
