"""Every v2 detail that no Atlassian document settles, chosen once, with its source.

Labels follow API-NOTES-v2 §0: [spec] the vendor OpenAPI text, [docs] vendor prose, [3p] what
third-party clients do (and report working). Section numbers (§) are API-NOTES-v2's unless
another file is named. The operator's core imports the role and management-source choices from
here too, so that the client and the decisions agree on them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ADMIN_ROLES",
    "ALL_DIRECTORIES",
    "IDP_MANAGEMENT_SOURCE",
    "LIFECYCLE_PRIVILEGE",
    "RESEND_FILTERS_WITH_CURSOR",
    "SEARCH_EXPAND",
    "SEARCH_PAGE_LIMIT",
    "UNMANAGED_EXPAND",
    "UNMANAGED_FILTER",
    "cursor_from_next",
    "manage_query",
    "search_request",
    "trim_fraction",
]

# -- the v2 user search (POST /admin/v2/orgs/{orgId}/directories/{directoryId}/users/search) ------

#: [spec] `directoryId` may be the literal "-": every directory the key may manage (§1.1). An
#: org on centralized user management has exactly one directory [docs]; "-" covers both kinds.
ALL_DIRECTORIES = "-"

#: [3p] The page size. The spec gives a default of 50 and no maximum (§1.2, §10.1); folio and
#: arkana send 100 and report success. A larger page means fewer requests per sync; if Atlassian
#: ever refuses it (a 400), this is the number to lower.
SEARCH_PAGE_LIMIT = 100

#: [spec] The expand values (§1.2, §1.5): `platformRoles` says who is an org or site admin
#: (§6.2 b). Without it the field is omitted, as the expand text implies (§10.5). `groups`,
#: `counts.resources` and `productAccess` are not needed for every user and would only make
#: pages larger (and the operator's memory at 10,000 users: the v1 listing already gives the
#: activity of managed users).
SEARCH_EXPAND = ("platformRoles",)

#: [spec] The second, small search of each sync: only the unmanaged users (`claimStatus`, a
#: single value, §1.2), whose last activity (`productAccess`, §1.5) only v2 knows.
UNMANAGED_FILTER = {"claimStatus": "unmanaged"}
UNMANAGED_EXPAND = ("platformRoles", "productAccess")

#: [3p] Later pages resend the first page's body plus `cursor` (§1.3): folio keeps the original
#: request and sets only the cursor, arkana sends its filters with it. The search spec does not
#: say whether the cursor alone would do (§10.2); the GET variants discard other parameters when
#: a cursor is present, so resending them is harmless there.
RESEND_FILTERS_WITH_CURSOR = True


def search_request(cursor: str | None = None, *, unmanaged_only: bool = False) -> dict[str, Any]:
    """The JSON body of one search request; `cursor` is None for the first page.

    Always an object, never an absent body (§1.7: a body-less POST is answered 415 [3p]).
    """
    first: dict[str, Any] = (
        {"limit": SEARCH_PAGE_LIMIT, **UNMANAGED_FILTER, "expand": list(UNMANAGED_EXPAND)}
        if unmanaged_only
        else {"limit": SEARCH_PAGE_LIMIT, "expand": list(SEARCH_EXPAND)}
    )
    if cursor is None:
        return first
    return {**first, "cursor": cursor} if RESEND_FILTERS_WITH_CURSOR else {"cursor": cursor}


def cursor_from_next(link: str) -> str | None:
    """The cursor to send for the page after one whose `links.next` is `link`.

    [spec] `links.next` is a cursor token (§1.4, LinkPageCursor). [3p] bulk-suspend and arkana
    also accept a URL carrying `?cursor=`, since other Atlassian lists (v1, workspaces) describe
    `next` as a URL; so a URL is read for its `cursor` value, and never requested itself (it
    could point anywhere, and the request is a POST with a body). None: a URL without a cursor.
    """
    text = link.strip()
    if "://" not in text:
        return text
    values = parse_qs(urlsplit(text).query).get("cursor")
    return values[0] if values and values[0] else None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def trim_fraction(timestamp: str) -> str:
    """The timestamp with its fractional seconds cut to microseconds, Python's precision.

    [spec] `lastActiveTimestamp` carries nanoseconds: the example is
    `2025-11-06T23:07:29.936941226Z` (§1.5, §9). Python 3.11's `fromisoformat` happens to read
    it, earlier ones did not; cutting it first keeps the reading independent of that.
    """
    return _FRACTION.sub(r"\1", timestamp, count=1)


# -- what the operator concludes from a v2 user ---------------------------------------------------

#: [spec] The platform roles of an org admin and a site admin (`PlatformRole`, §1.5), checked
#: on the user rather than with a `roleIds` filter whose semantics are open (§6.2 b, §10.6).
#: `atlassian/user-access-admin` and `atlassian/ai-access` are not admin roles for this purpose.
ADMIN_ROLES = ("atlassian/org-admin", "atlassian/site-admin")

#: [spec] `managementSource` "synced": provisioned from an identity provider (§1.5); the
#: other value is "invited", and null means Atlassian could not tell.
IDP_MANAGEMENT_SOURCE = "synced"

# -- the user management pre-check (GET /users/{account_id}/manage) -----------------------------

#: [spec] The privilege that covers both lifecycle/enable and lifecycle/disable (§5).
LIFECYCLE_PRIVILEGE = "lifecycle.enablement"


def manage_query() -> dict[str, str]:
    """The query of the pre-check.

    How several `privileges` are encoded is open (§5, §10.15: OpenAPI's default is a repeated
    parameter, [3p] go-atlassian joins them with commas). One value is sent, which reads the
    same either way, so the question does not arise.
    """
    return {"privileges": LIFECYCLE_PRIVILEGE}
