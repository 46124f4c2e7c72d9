"""The command line of `kubectl atlassian` (the `kubectl-atlassian` plugin): report, who-has,
explain, migrate-storage (the one command that writes: after an upgrade, see
migrate_storage.py) and check (the preflight, check.py). `atlassian-operator` adds the same
commands with `add_commands`.

A problem the user can fix prints `error: ...` (what is wrong, what to do) and exits 1; no
traceback. Only `check` reaches Atlassian (reads only); the others read the cluster alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atlassian_operator.report.cluster import Cluster, Inventory, ReportError, Scope
from atlassian_operator.report.review import (
    AccessReview,
    build_review,
    known_products,
    parse_time,
    who_has,
)

FORMATS = ("table", "wide", "csv", "json", "html", "manifests")
ROW_FORMATS = ("table", "csv", "json")

Command = Callable[[argparse.Namespace], int]


def add_commands(commands: Any) -> None:
    """Adds `report`, `who-has`, `explain`, `migrate-storage` and `check` to an argparse
    subparsers object."""
    from atlassian_operator.report import check, migrate_storage

    report = commands.add_parser(
        "report",
        help="access review: who has which product on which site, and when they last used it",
        description="An access review of the AtlassianAccounts in the cluster: one row per "
        "account and product-site (table, wide, csv, json) with each account's desired state, "
        "Ready reason and last action, then each org's health and coverage; one "
        "self-contained page (html); or the AtlassianAccount manifests that suspend the "
        "selected accounts (manifests).",
    )
    _cluster_arguments(report)
    report.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default="table",
        help="output format (default table; wide adds the display name, billing, dates, who "
        "asked for the last action and its approval)",
    )
    report.add_argument(
        "--inactive-days",
        type=_days,
        metavar="N",
        help="keep only accounts whose newest activity (the account's or any product's) is "
        "more than N days old; a never-active one counts from when the operator first "
        "observed it (status.firstObserved); with --format manifests, the accounts to suspend",
    )
    _output_argument(report)
    report.set_defaults(main=_guarded(_report))

    who = commands.add_parser(
        "who-has",
        help='the accounts with active access to one product-site, e.g. "Confluence (acme)"',
        description="The accounts whose access to PRODUCT (the productAccess label, "
        'e.g. "Confluence (acme)"; any case) is Active, with when they last used it.',
    )
    who.add_argument("product", metavar="PRODUCT")
    _cluster_arguments(who)
    who.add_argument("--format", "-f", choices=ROW_FORMATS, default="table")
    _output_argument(who)
    who.set_defaults(main=_guarded(_who_has))

    why = commands.add_parser(
        "explain",
        help="why an account is or is not in its desired state",
        description="Why ACCOUNT (an AtlassianAccount name, or an email or account ID) is or "
        "is not in its desired state: desired and observed state, conditions, last action, "
        "flags, its place in the suspension budget's line, and the org's policies.",
    )
    why.add_argument("account", metavar="ACCOUNT")
    _cluster_arguments(why)
    why.set_defaults(main=_guarded(_explain))

    migrate_storage.add_command(commands, _guarded)
    check.add_command(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl atlassian",
        description="Access reviews of Atlassian Cloud accounts, from the AtlassianOrgs and "
        "AtlassianAccounts in the cluster (never from Atlassian), and `check`, the read-only "
        "preflight against the Atlassian org before a first sync.",
    )
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `kubectl-atlassian` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.main(args)
    return result


def _cluster_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-n", "--namespace", help="the namespace to read (default: the context's namespace)"
    )
    where.add_argument("-A", "--all-namespaces", action="store_true", help="read every namespace")
    parser.add_argument("--org", metavar="NAME", help="only the accounts of this AtlassianOrg")
    parser.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--context", help="the kubeconfig context (default: the current one)")
    parser.add_argument(
        "--as-of",
        type=_time,
        metavar="TIME",
        help="count days idle (IDLE, --inactive-days) up to this RFC 3339 time instead of now; "
        "the accounts and their status are still read from the cluster as they are now, so "
        "this does not show a past state",
    )


def _output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (0 or more)")
    return days


def _time(text: str) -> datetime:
    parsed = parse_time(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 time with a zone, like 2026-12-02T09:00:00Z"
        )
    return parsed


def _guarded(command: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # `| head`: the reader has all it wants
            sys.stderr.close()
            return 0
        except KeyboardInterrupt:
            return 130

    return run


def _read(args: argparse.Namespace) -> tuple[Inventory, str]:
    cluster = Cluster(args.kubeconfig, args.context)
    try:
        scope = Scope(None if args.all_namespaces else args.namespace or cluster.default_namespace)
        inventory = cluster.read(scope)
    finally:
        cluster.close()
    label = str(scope)
    if args.org is not None:
        names = sorted({str((o.get("metadata") or {}).get("name")) for o in inventory.orgs})
        if args.org not in names:
            known = f" (there: {', '.join(names)})" if names else " (there are none)"
            raise ReportError(
                f"no AtlassianOrg named {args.org!r} in {scope}{known}; "
                "`kubectl get aorg -A` lists them"
            )
        label += f", org {args.org}"
    return inventory, label


def _review(args: argparse.Namespace, inactive_days: int | None = None) -> tuple[AccessReview, str]:
    inventory, label = _read(args)
    as_of = args.as_of or datetime.now(UTC).replace(microsecond=0)
    review = build_review(
        inventory.orgs,
        inventory.accounts,
        as_of=as_of,
        org_name=args.org,
        inactive_days=inactive_days,
    )
    return review, label


def _write(args: argparse.Namespace, text: str) -> None:
    output = getattr(args, "output", None)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"cannot write {output}: {exc.strerror or exc}") from None
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _report(args: argparse.Namespace) -> int:
    from atlassian_operator.report import (
        format_csv,
        format_html,
        format_json,
        format_manifests,
        format_table,
    )

    review, label = _review(args, args.inactive_days)
    fmt = args.format
    policies = any(o.inactivity_policy is not None for o in review.orgs)
    if fmt == "manifests" and args.inactive_days is None and not policies:
        raise ReportError(
            "--format manifests needs a selection: pass --inactive-days N to suspend the "
            "accounts inactive more than N days (or give the org an inactivity policy, "
            "spec.inactivity, whose eligible accounts are then selected)"
        )
    if fmt in ("table", "wide"):
        table = format_table.review_table(
            review, all_namespaces=args.all_namespaces, wide=fmt == "wide"
        )
        if not table:
            print(f"No AtlassianAccounts selected in {label}.", file=sys.stderr)
        orgs = format_table.org_section(review, all_namespaces=args.all_namespaces)
        text = "\n".join(part for part in (table, orgs) if part)
        if not text:
            return 0
    elif fmt == "csv":
        text = format_csv.rows_csv(review.rows())
    elif fmt == "json":
        text = format_json.review_json(review, label)
    elif fmt == "html":
        text = format_html.review_html(review, label)
    else:
        text = format_manifests.suspension_manifests(review, label)
    _write(args, text)
    return 0


def _who_has(args: argparse.Namespace) -> int:
    from atlassian_operator.report import format_csv, format_json, format_table

    review, label = _review(args)
    rows = who_has(review, args.product)
    if not rows:
        products = known_products(review)
        if args.product.strip().lower() not in (p.lower() for p in products):
            listed = ", ".join(repr(p) for p in products) or "none"
            raise ReportError(
                f"no product-site {args.product!r} in {label}; products there: {listed} "
                '(write it as the PRODUCTS column shows it, e.g. "Confluence (acme)")'
            )
    if args.format == "table":
        if not rows:
            print(f"No account has Active access to {args.product} in {label}.", file=sys.stderr)
            return 0
        text = format_table.who_has_table(rows, all_namespaces=args.all_namespaces)
    elif args.format == "csv":
        text = format_csv.rows_csv(rows)
    else:
        text = format_json.rows_json(rows)
    _write(args, text)
    return 0


def _explain(args: argparse.Namespace) -> int:
    from atlassian_operator.report.explain import explain, find_account

    review, label = _review(args)
    _write(args, explain(review, find_account(review, args.account, label)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
