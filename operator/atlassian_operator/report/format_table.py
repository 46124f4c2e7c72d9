"""The terminal table: aligned columns in kubectl's style, one line per account and product."""

from __future__ import annotations

from collections.abc import Sequence

from atlassian_operator.report.review import AccessReview, AccessRow

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
    return ",".join(words) or NONE


def review_table(review: AccessReview, *, all_namespaces: bool) -> str:
    headers = [
        "ORG", "NAME", "EMAIL", "DISPLAY-NAME", "STATUS", "BILLABLE", "LAST-ACTIVE", "IDLE",
        "PRODUCT", "ACCESS", "PRODUCT-LAST-ACTIVE", "FLAGS",
    ]  # fmt: skip
    rows = review.rows()
    lines = []
    for row in rows:
        a, p = row.account, row.product
        idle = NONE if a.days_since_active is None else f"{a.days_since_active}d"
        lines.append(
            [
                a.org.name, a.name, cell(a.email or a.account_id), cell(a.display_name, NAME_WIDTH),
                cell(a.state), yes_no(a.billable), day(a.last_active), idle,
                cell(p.product if p else None), cell(p.status if p else None),
                day(p.last_active if p else None), flags_of(row),
            ]
        )  # fmt: skip
    return _namespaced(headers, lines, [r.account.namespace for r in rows], all_namespaces)


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
