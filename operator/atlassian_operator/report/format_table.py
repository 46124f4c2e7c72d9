"""The terminal table: aligned columns in kubectl's style, one line per account and product."""

from __future__ import annotations

from collections.abc import Sequence

from atlassian_operator.report.review import (
    AccessReview,
    AccessRow,
    AccountLine,
    LastAction,
    ProductAccess,
)

NONE = "-"
#: Display names are cut to this many characters: the terminal is for scanning; CSV, JSON and
#: HTML carry them whole.
NAME_WIDTH = 32


def aligned(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, as `kubectl get` prints them."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]
    return "\n".join(lines) + "\n"


def day(timestamp: str | None) -> str:
    """The date of an RFC 3339 time; the time of day adds nothing to a review."""
    return timestamp[:10] if timestamp else NONE


def cell(text: str | None, width: int = 0) -> str:
    """User data on one line (a tab or newline would break the columns), cut to `width`."""
    flat = " ".join(text.split()) if text else NONE
    return flat[: width - 3] + "..." if width and len(flat) > width else flat


def yes_no(value: bool | None) -> str:
    return NONE if value is None else "yes" if value else "no"


def flags_of(row: AccessRow) -> str:
    account = row.account
    words = account.flags.words()
    if account.inactivity_eligible:
        words.append("eligible")
    elif account.inactivity_verdict == "InactivityWarning":
        words.append("warned")
    if account.inactivity_refused:
        words.append("refused")
    if account.kept_by_intent:
        words.append("kept-by-intent")
    return ",".join(words) or NONE


def last_action(account: AccountLine) -> str:
    """`Suspend Succeeded 2026-12-01`: what the last call was, how it ended, and when."""
    act = account.last_action
    return NONE if act is None else f"{act.action} {act.result} {day(act.time)}"


def product_access(product: ProductAccess | None) -> str:
    """The product-site, and its access when not Active (`Confluence (beta): Deprovisioned`):
    the compact table's PRODUCT, where no ACCESS column says it."""
    if product is None:
        return NONE
    active = product.status == "Active"
    return cell(product.product if active else f"{product.product}: {product.status or '?'}")


def review_table(review: AccessReview, *, all_namespaces: bool, wide: bool = False) -> str:
    """The rows. The default columns fit about 160 characters: who, the observed and desired
    state, why it is or is not reached (the Ready reason: a refused or waiting offboarding),
    days idle and the product-site (with its access when it is not Active); `wide` adds the
    display name, billing, the dates, the access, and the last call: what, how it ended,
    when, who asked for it and the approval past the brake it went under."""
    headers = (
        ["ORG", "NAME", "EMAIL", "DISPLAY-NAME", "STATUS", "DESIRED", "READY", "LAST-ACTION",
         "REQUESTED-BY", "APPROVAL", "BILLABLE", "LAST-ACTIVE", "IDLE", "PRODUCT", "ACCESS",
         "PRODUCT-LAST-ACTIVE", "FLAGS"]
        if wide
        else ["ORG", "NAME", "EMAIL", "STATUS", "DESIRED", "READY", "IDLE", "PRODUCT", "FLAGS"]
    )  # fmt: skip
    rows = review.rows()
    lines = []
    for row in rows:
        a, p = row.account, row.product
        idle = NONE if a.days_since_active is None else f"{a.days_since_active}d"
        act = a.last_action
        if wide:
            lines.append(
                [
                    a.org.name, a.name, cell(a.email or a.account_id),
                    cell(a.display_name, NAME_WIDTH), cell(a.state), cell(a.desired_state),
                    cell(a.ready_reason), last_action(a),
                    cell(act.requested_by if act else None),
                    cell(_approval(act) if act else None), yes_no(a.billable),
                    day(a.last_active), idle, cell(p.product if p else None),
                    cell(p.status if p else None), day(p.last_active if p else None),
                    flags_of(row),
                ]
            )  # fmt: skip
        else:
            lines.append(
                [
                    a.org.name, a.name, cell(a.email or a.account_id), cell(a.state),
                    cell(a.desired_state), cell(a.ready_reason), idle, product_access(p),
                    flags_of(row),
                ]
            )  # fmt: skip
    table = _namespaced(headers, lines, [r.account.namespace for r in rows], all_namespaces)
    return table if rows else ""


def _approval(act: LastAction) -> str | None:
    """`40 by kubectl-annotate 2026-12-02`: the approval past the brake the call went under."""
    if not act.approved:
        return None
    return " ".join(
        part for part in (str(act.approval_count), act.approval_by and f"by {act.approval_by}",
                          act.approval_at and day(act.approval_at)) if part
    )  # fmt: skip


def org_section(review: AccessReview, *, all_namespaces: bool) -> str:
    """Each org's health, how much of it the review covers, and what waits for a person:
    printed under the rows, where a terminal leaves the eye."""
    out = []
    for summary in review.summaries():
        org = summary.org
        name = f"{org.namespace}/{org.name}" if all_namespaces else org.name
        out.append(f"Org {name}: {summary.health()}")
        if org.found:
            out.append(f"  {summary.coverage()}")
        out.extend(f"  {' '.join(note.split())}" for note in summary.notes())
    return "\n".join(out) + "\n" if out else ""


def who_has_table(rows: Sequence[AccessRow], *, all_namespaces: bool) -> str:
    headers = ["ORG", "NAME", "EMAIL", "DISPLAY-NAME", "STATUS", "LAST-ACTIVE-THERE", "FLAGS"]
    lines = [
        [
            r.account.org.name, r.account.name, cell(r.account.email or r.account.account_id),
            cell(r.account.display_name, NAME_WIDTH), cell(r.account.state),
            day(r.product.last_active if r.product else None), flags_of(r),
        ]
        for r in rows
    ]  # fmt: skip
    return _namespaced(headers, lines, [r.account.namespace for r in rows], all_namespaces)


def _namespaced(
    headers: list[str], lines: list[list[str]], namespaces: list[str], all_namespaces: bool
) -> str:
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
        lines = [[ns, *line] for ns, line in zip(namespaces, lines, strict=True)]
    return aligned(headers, lines)
