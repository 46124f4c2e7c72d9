"""The review as one self-contained HTML page: summaries, a filterable table, the applications.

No network and no external assets: the stylesheet and script are inline, and a Content
Security Policy forbids every fetch, so the page reads the same offline, attached to a ticket
or opened years later. Every value from the cluster goes through `_e` (HTML escaping, quotes
included): names and emails are user data and must never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from atlassian_operator.report.html_assets import SCRIPT, STYLE
from atlassian_operator.report.review import (
    STATES,
    AccessReview,
    AccountLine,
    Application,
    Flags,
    LastAction,
    OrgSummary,
    ProductAccess,
    days_between,
    parse_time,
)

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; form-action 'none'; base-uri 'none'"
)
#: Days without activity from which the page marks an account red.
_LONG_IDLE = 90
#: Pages with up to this many assignments show every application open.
_OPEN_APPLICATIONS = 100


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def review_html(review: AccessReview, scope: str) -> str:
    selected = review.selected
    summaries = review.summaries()
    applications = review.applications()
    selection = (
        f"accounts inactive {review.inactive_days}+ days"
        if review.inactive_days is not None
        else "every account"
    )
    date = review.as_of.strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Access review: {_e(scope)}, {_e(review.as_of.date().isoformat())}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<header><h1>Atlassian access review</h1>",
        f'<p class="meta">{_e(scope)} &middot; as of {_e(date)} &middot; '
        f'<span id="total-accounts">{len(review.accounts)}</span> accounts in '
        f"{len(summaries)} org(s) &middot; showing {_e(selection)}</p></header><main>",
        '<section id="orgs"><h2>Organizations</h2><div class="orgs">',
        *(_org(s) for s in summaries),
        "</div></section>",
        _accounts(selected, review),
        _applications(applications, review),
        f"</main><script>{SCRIPT}</script></body></html>\n",
    ]
    return "\n".join(parts)


def _org(summary: OrgSummary) -> str:
    org = summary.org
    where = [f"namespace {org.namespace}"]
    if org.org_id:
        where.insert(0, f"org ID {org.org_id}")
    if org.status.get("lastSyncTime"):
        where.append(f"last sync {org.status['lastSyncTime']}")
    if not org.found:
        where.append("AtlassianOrg not found in the cluster")
    unknown = summary.reclaimable is None
    main = [
        ("accounts", "Accounts", summary.accounts, ""),
        *((s.lower(), s, n, "") for s, n in summary.by_state.items() if s in STATES or n),
        ("billable", "Billable", summary.billable, ""),
        (
            "reclaimable",
            "Reclaimable seats",
            summary.reclaimable,
            "muted" if unknown else "reclaim",
        ),
    ]
    minor = [(f.lower(), _FLAG_LABELS[f], n, "") for f, n in summary.flags.items()]
    cells = [
        "".join(
            f'<div data-stat="{_e(key)}" class="{css}"><dt>{_e(label)}</dt>'
            f"<dd>{'&ndash;' if value is None else _e(value)}</dd></div>"
            for key, label, value, css in stats
        )
        for stats in (main, minor)
    ]
    notes = [
        f'<p class="health"><b>Health:</b> {_e(summary.health())}</p>',
        *(
            [f'<p class="coverage"><b>Coverage:</b> {_e(summary.coverage())}</p>']
            if org.found
            else []
        ),
        *(f'<p class="note">{_e(note)}</p>' for note in summary.notes()),
        f"<p><b>Reclaimable seats:</b> {_e(summary.reclaimable_basis)}.</p>",
    ]
    users = org.status.get("users")
    if isinstance(users, Mapping):
        counts = ", ".join(f"{_e(v)} {_e(k)}" for k, v in users.items() if k != "total")
        notes.append(f"<p><b>Atlassian</b> lists {_e(users.get('total'))} users: {counts}.</p>")
    notes.append(f"<p><b>Inactivity policy:</b> {_e(org.inactivity_text())}</p>")
    notes.append(f"<p><b>Suspension policy:</b> {_e(org.suspension_text())}</p>")
    return (
        f'<article class="org" data-org="{_e(org.namespace)}/{_e(org.name)}">'
        f'<h3>{_e(org.name)} <span class="muted">{_e(" · ".join(where))}</span></h3>'
        f'<dl class="stats">{cells[0]}</dl><dl class="stats minor">{cells[1]}</dl>'
        f"{''.join(notes)}</article>"
    )


def _flag_words(account: AccountLine) -> list[str]:
    words = account.flags.words()
    if account.inactivity_eligible:
        words.append("eligible")
    if account.inactivity_refused:
        words.append("refused")
    if account.kept_by_intent:
        words.append("kept-by-intent")
    return words


def _pill(css: str, text: str, title: str = "") -> str:
    hint = f' title="{_e(title)}"' if title else ""
    return f'<span class="pill {_e(css)}"{hint}>{_e(text)}</span>'


_FLAG_LABELS = {
    "protected": "Protected",
    "exempt": "Exempt",
    "IdP": "IdP-managed",
    "unmanaged": "Unmanaged",
    "admin": "Admins",
}
_FLAG_TITLES = {
    "protected": "listed in the org's spec.suspension.protectedAccounts: never suspended",
    "exempt": "listed in the org's spec.inactivity.exempt or matches its exemptSelector",
    "IdP": "managed by an identity provider: deprovision it there",
    "unmanaged": "outside the org's verified domains: no lifecycle call applies",
    "admin": "org or site admin",
    "eligible": "eligible for suspension under the org's inactivity policy",
    "refused": "idle past the inactivity policy's threshold, but the operator would refuse to "
    "suspend it (identity provider, admin, unmanaged or protected): not reclaimable",
    "kept-by-intent": "idle past the inactivity policy's threshold, kept by its own "
    "desiredState: Active",
}


def _state_class(state: str) -> str:
    return f"s-{state}" if state in STATES else "s-Unknown"


def _state(state: str) -> str:
    """A coloured pill for Active, Suspended, Deprovisioned; grey for anything else."""
    return _pill(_state_class(state), state)


def _idle(days: int | None, title: str = "", *, unreadable: bool = False) -> str:
    hint = f' title="{_e(title)}"' if title else ""
    if days is None:
        shown = "unreadable" if unreadable else "never"
        return f'<td class="num" data-sort=""{hint}>{shown}</td>'
    css = "num idle-long" if days >= _LONG_IDLE else "num"
    return f'<td class="{css}" data-sort="{days}"{hint}>{days}</td>'


def _when(value: str | None) -> str:
    if not value:
        return '<td data-sort="">&ndash;</td>'
    return f'<td data-sort="{_e(value)}" title="{_e(value)}">{_e(value[:10])}</td>'


def _who(account: AccountLine) -> str:
    name = f'<div class="name">{_e(account.display_name)}</div>' if account.display_name else ""
    return (
        f'<td class="who" data-sort="{_e(account.who.lower())}">'
        f'<div class="email">{_e(account.who)}</div>{name}'
        f'<div class="res">{_e(account.namespace)}/{_e(account.name)}</div></td>'
    )


def _account_row(account: AccountLine) -> str:
    state = account.state_label
    billable = {True: "yes", False: "no", None: "&ndash;"}[account.billable]
    products = "".join(_product(p) for p in account.products) or '<span class="empty">none</span>'
    words = _flag_words(account)
    flags = "".join(_pill(f"f-{w}", w, _FLAG_TITLES[w]) for w in words)
    inactive = account.inactive_days
    policy_days = "" if inactive is None else f"the operator's count: inactive {inactive} days"
    ready = account.ready or {}
    return (
        f'<tr data-state="{_e(state)}" data-flags="{_e(" ".join(words))}">'
        f"{_who(account)}<td>{_e(account.org.name)}</td>"
        f'<td data-sort="{_e(state)}">{_state(state)}</td>'
        f'<td class="desired">{_e(account.desired_state) or "&ndash;"}</td>'
        f'<td class="ready" title="{_e(ready.get("message"))}">'
        f"{_e(account.ready_reason) or '&ndash;'}</td>{_last_action(account.last_action)}"
        f"<td>{billable}</td>{_when(account.last_active)}"
        f"{_idle(account.days_since_active, policy_days, unreadable=account.activity_unreadable)}"
        f'<td data-sort="{len(account.products)}">{products}</td>'
        f'<td data-sort="{_e(" ".join(words))}">{flags}</td></tr>'
    )


def _last_action(act: LastAction | None) -> str:
    """What, how it ended and when; who asked and the approval it went under below it."""
    if act is None:
        return '<td class="action" data-sort="">&ndash;</td>'
    by = [f"by {act.requested_by}"] if act.requested_by else []
    if act.approved:
        by.append(act.approval_text())
    detail = f'<div class="by">{_e("; ".join(by))}</div>' if by else ""
    return (
        f'<td class="action" data-sort="{_e(act.time)}" title="{_e(act.message)}">'
        f"{_e(act.action)} {_e(act.result)} {_e((act.time or '')[:10])}{detail}</td>"
    )


def _product(product: ProductAccess) -> str:
    gone = " gone" if product.status != "Active" else ""
    last = product.last_active[:10] if product.last_active else "never"
    title = f"{product.status}; last active there: {last}"
    return f'<span class="prod{gone}" title="{_e(title)}">{_e(product.product)}</span>'


def _accounts(accounts: list[AccountLine], review: AccessReview) -> str:
    states = sorted({a.state_label for a in review.accounts}, key=_state_order)
    state_options = "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in states)
    flag_options = "".join(
        f'<option value="{_e(w)}">{_e(w)}</option>'
        for w in [*Flags(True, True, True, True, True).words(), "eligible"]
    )
    body = "\n".join(_account_row(a) for a in accounts)
    return (
        '<section id="accounts-section"><h2>Accounts</h2><div class="controls">'
        '<input id="filter" type="search" placeholder="Filter: email, name, product, flag"'
        ' aria-label="Filter accounts" autocomplete="off">'
        '<select id="state" aria-label="Account status">'
        f'<option value="">All states</option>{state_options}</select>'
        '<select id="flag" aria-label="Flag">'
        f'<option value="">Any flag</option>{flag_options}</select>'
        f'<span class="muted"><b id="shown">{len(accounts)}</b> of '
        f'<span id="listed">{len(accounts)}</span> accounts shown</span></div>'
        '<table id="accounts" class="sortable"><thead><tr>'
        '<th data-type="text">Account</th><th data-type="text">Org</th>'
        '<th data-type="text">Status</th><th data-type="text">Desired</th>'
        '<th data-type="text">Ready</th><th data-type="text">Last action</th>'
        '<th data-type="text">Billable</th>'
        '<th data-type="text">Last active</th><th data-type="number">Days idle</th>'
        '<th data-type="number">Products</th><th data-type="text">Flags</th>'
        f"</tr></thead><tbody>\n{body}\n</tbody></table></section>"
    )


def _state_order(state: str) -> tuple[int, str]:
    return (STATES.index(state) if state in STATES else len(STATES), state)


def _applications(applications: Iterable[Application], review: AccessReview) -> str:
    apps = list(applications)
    total = sum(len(a.assignments) for a in apps)
    opened = " open" if total <= _OPEN_APPLICATIONS else ""
    sections = "\n".join(_application(a, review, opened) for a in apps)
    if not apps:
        sections = '<p class="empty">No product access in this selection.</p>'
    return (
        '<section id="applications"><h2>Applications</h2>'
        '<p class="muted">Each product on each site is a managed application: the accounts '
        "assigned to it, their status, and when they last used it.</p>"
        f"{sections}</section>"
    )


def _application(app: Application, review: AccessReview, opened: str) -> str:
    active = app.active
    recent = sum(
        1
        for _, p in active
        if (t := parse_time(p.last_active)) is not None and days_between(t, review.as_of) < 30
    )
    never = sum(1 for _, p in active if not p.last_active)
    counts = [
        f"{len(active)} assigned",
        f"{recent} used in the last 30 days",
        f"{never} never used",
    ]
    if len(app.assignments) > len(active):
        counts.append(f"{len(app.assignments) - len(active)} removed")
    atlassian = app.atlassian_active_users
    if atlassian is not None:
        counts.append(f"Atlassian counts {atlassian} active users")
    # Lean rows (no pills, no nested blocks): an application of a large org has thousands,
    # and the browser's time to open the page grows with the number of elements.
    rows = "\n".join(
        f'<tr><td class="who" title="{_e(a.namespace)}/{_e(a.name)}">{_e(a.who)}'
        f"{f' <span class=name>{_e(a.display_name)}</span>' if a.display_name else ''}</td>"
        f'<td class="{_state_class(a.state_label)}">{_e(a.state_label)}</td>'
        f'<td class="{_state_class(p.status)}">{_e(p.status or "Unknown")}</td>'
        f"{_when(p.last_active)}{_idle(_days(p.last_active, review))}</tr>"
        for a, p in app.assignments
    )
    return (
        f'<details class="app" data-app="{_e(app.org.name)}/{_e(app.product)}"{opened}>'
        f"<summary><b>{_e(app.product)}</b> "
        f'<span class="muted">org {_e(app.org.name)} &middot; {_e(" · ".join(counts))}</span>'
        '</summary><table class="sortable"><thead><tr><th data-type="text">Account</th>'
        '<th data-type="text">Account status</th><th data-type="text">Access</th>'
        '<th data-type="text">Last active there</th><th data-type="number">Days</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _days(value: str | None, review: AccessReview) -> int | None:
    t = parse_time(value)
    return None if t is None else days_between(t, review.as_of)
