"""The simulated organization: its users in listing order, their lifecycle, and the pages."""

from __future__ import annotations

import bisect
import enum
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from atlassian_operator.simulator import directory, manage, paging
from atlassian_operator.simulator.population import (
    generate_admins,
    generate_unmanaged,
    generate_users,
)
from atlassian_operator.simulator.schema import UserFieldError, canonical_user, format_datetime
from atlassian_operator.simulator.search import SearchQuery, SearchStart, encode_cursor


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class LifecycleEvent:
    action: str
    message: str | None
    time: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "message": self.message, "time": self.time}


@dataclass
class SimUser:
    fields: dict[str, Any]  # the User as listed, without `links` (those depend on the base URL)
    scim: bool
    lifecycle: list[LifecycleEvent] = field(default_factory=list)
    # v2 attributes (API-NOTES-v2 §1.5). Unmanaged users are not in the v1 listing.
    claim_status: str = "managed"
    platform_roles: tuple[str, ...] = ()
    management_source: str | None = "invited"  # None: undetermined

    @property
    def managed(self) -> bool:
        return self.claim_status == "managed"


def management_source_for(scim: bool) -> str:
    """What v2 says of a user unless told otherwise: synced from an IdP, or invited."""
    return "synced" if scim else "invited"


class LifecycleResult(enum.Enum):
    DONE = "done"
    NOT_FOUND = "not_found"
    UNVERIFIED = "unverified"  # an unmanaged account: its domain is not the org's
    MANAGED_BY_SCIM = "managed_by_scim"
    CLOSED = "closed"


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, from the position of the first user; what faults match on
    account_ids: list[str]
    next_cursor: str | None
    prev_cursor: str | None


@dataclass(frozen=True)
class SearchPage:
    """One page of the v2 search: its users and its links (opaque cursors, never URLs)."""

    start: SearchStart
    account_ids: list[str]
    self_cursor: str
    next_cursor: str | None


class OrgState:
    """All users of the one simulated org, kept sorted by account id for stable paging."""

    def __init__(
        self,
        *,
        org_id: str,
        users: int,
        seed: int,
        page_size: int,
        scim_every: int,
        admins: int = 0,
        unmanaged: int = 0,
    ):
        self.org_id = org_id
        self.directory_id = directory.directory_id_for(org_id)
        self.page_size = page_size
        self.base_url = ""  # known once the socket is bound; set before the first request
        self._users: dict[str, SimUser] = {}
        for fields, scim in generate_users(users, seed, scim_every):
            source = management_source_for(scim)
            self._users[fields["account_id"]] = SimUser(fields, scim, management_source=source)
        # Generated after the ordinary users, from their own ids and random streams: with none
        # of them the org is exactly what it was before they existed.
        for extra in [*generate_admins(admins, seed), *generate_unmanaged(unmanaged, seed)]:
            self._users[extra.fields["account_id"]] = SimUser(
                extra.fields,
                scim=False,
                claim_status=extra.claim_status,
                platform_roles=extra.platform_roles,
            )
        # Every user (v2 search, /_sim) and the managed ones (the v1 listing, "Get managed
        # accounts"), both in ascending account id order.
        self._order = sorted(self._users)
        self._listed = [account_id for account_id in self._order if self._users[account_id].managed]
        # Serialised users, filled lazily and dropped on change: a page then costs
        # O(page size) however large the org, and 50k users start in well under a second.
        self._encoded: dict[str, bytes] = {}
        self._directory: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._order)

    # --- listing ---------------------------------------------------------------------------

    def page(self, cursor_text: str | None) -> Page:
        """Raises paging.InvalidCursor for a cursor this simulator did not issue."""
        order, size = self._listed, self.page_size
        if cursor_text is None:
            start, end = 0, min(size, len(order))
        else:
            cursor = paging.decode(cursor_text)
            if cursor.direction == "after":
                start = bisect.bisect_right(order, cursor.account_id)
                end = min(start + size, len(order))
            else:
                end = bisect.bisect_left(order, cursor.account_id)
                start = max(0, end - size)
        ids = order[start:end]
        next_cursor = prev_cursor = None
        if ids and end < len(order):
            next_cursor = paging.encode(paging.Cursor("after", ids[-1]))
        if ids and start > 0:
            prev_cursor = paging.encode(paging.Cursor("before", ids[0]))
        return Page(start // size + 1, ids, next_cursor, prev_cursor)

    def page_url(self, cursor: str | None) -> str:
        url = f"{self.base_url}/admin/v1/orgs/{quote(self.org_id, safe='')}/users"
        return url if cursor is None else f"{url}?cursor={quote(cursor, safe='')}"

    def render_page(self, page: Page, self_cursor: str | None) -> bytes:
        links: dict[str, str] = {"self": self.page_url(self_cursor)}
        if page.prev_cursor is not None:
            links["prev"] = self.page_url(page.prev_cursor)
        if page.next_cursor is not None:
            links["next"] = self.page_url(page.next_cursor)
        return b"".join(
            (
                b'{"data":[',
                b",".join(self._user_bytes(account_id) for account_id in page.account_ids),
                b'],"meta":{"total":%d},"links":' % len(self._listed),
                _compact_json(links),
                b"}",
            )
        )

    def user_json(self, account_id: str) -> dict[str, Any]:
        """The User exactly as the listing shows it."""
        result: dict[str, Any] = json.loads(self._user_bytes(account_id))
        return result

    def _user_bytes(self, account_id: str) -> bytes:
        encoded = self._encoded.get(account_id)
        if encoded is None:
            user = self._users[account_id].fields
            links = {"self": f"{self.base_url}/users/{quote(account_id, safe='')}/manage/profile"}
            encoded = _compact_json({**user, "links": links})
            self._encoded[account_id] = encoded
        return encoded

    # --- v2 search -------------------------------------------------------------------------

    def search(self, start: SearchStart) -> SearchPage:
        """The page of a search that starts after `start.position`, in the query's order."""
        query, limit = start.query, start.query.limit
        if query.sort_descending is None:
            after = start.position
            first = bisect.bisect_right(self._order, after) if isinstance(after, str) else 0
            found: list[str] = []
            for account_id in itertools.islice(self._order, first, None):
                if self._selected(query, account_id):
                    found.append(account_id)
                    if len(found) > limit:
                        break
            positions: list[Any] = found
        else:
            # By nickname (ties by account id), the one sort §1.2 allows: sorted per request,
            # which only costs anything for clients that ask for it.
            keyed = sorted(
                (
                    (self._v2(account_id)["nickname"].casefold(), account_id)
                    for account_id in self._order
                    if self._selected(query, account_id)
                ),
                reverse=query.sort_descending,
            )
            if isinstance(start.position, tuple):
                mark = start.position
                keyed = [k for k in keyed if (k < mark if query.sort_descending else k > mark)]
            positions = keyed[: limit + 1]
            found = [account_id for _, account_id in positions]
        self_cursor = encode_cursor(start)
        next_cursor = None
        if len(found) > limit:
            last = positions[limit - 1]
            next_cursor = encode_cursor(SearchStart(query, last, start.page + 1))
        return SearchPage(start, found[:limit], self_cursor, next_cursor)

    def render_search(self, page: SearchPage) -> bytes:
        expand = page.start.query.expand
        users = [
            directory.without_unexpanded(self._v2(account_id), expand)
            for account_id in page.account_ids
        ]
        links = {"self": page.self_cursor}
        if page.next_cursor is not None:
            links["next"] = page.next_cursor
        return _compact_json({"data": users, "links": links})

    def _selected(self, query: SearchQuery, account_id: str) -> bool:
        # v2 has account type "atlassian" only (§9): customer and app accounts, which only
        # /_sim can create, are not in the directory.
        user = self._users[account_id]
        if user.fields["account_type"] != "atlassian":
            return False
        return query.matches(self._v2(account_id), self.directory_id)

    def _v2(self, account_id: str) -> dict[str, Any]:
        """The v2 User with every expand field, cached like the v1 bytes."""
        rendered = self._directory.get(account_id)
        if rendered is None:
            user = self._users[account_id]
            rendered = directory.directory_user(
                user.fields,
                claim_status=user.claim_status,
                platform_roles=user.platform_roles,
                management_source=user.management_source,
            )
            self._directory[account_id] = rendered
        return rendered

    # --- user management -------------------------------------------------------------------

    def permissions(
        self, account_id: str, privileges: tuple[str, ...]
    ) -> tuple[LifecycleResult, dict[str, Any]]:
        """What GET /users/{id}/manage answers: DONE with the rules, or why there are none."""
        user = self._users.get(account_id)
        if user is None:
            return LifecycleResult.NOT_FOUND, {}
        if not user.managed:
            return LifecycleResult.UNVERIFIED, {}
        if user.fields["account_status"] == "closed":
            # As the lifecycle calls answer: nothing can be done to a closed account.
            return LifecycleResult.CLOSED, {}
        return LifecycleResult.DONE, manage.permissions(privileges, synced=user.scim)

    # --- lifecycle -------------------------------------------------------------------------

    def disable(self, account_id: str, message: str | None, now: float) -> LifecycleResult:
        return self._lifecycle(account_id, "disable", message, now)

    def enable(self, account_id: str, now: float) -> LifecycleResult:
        return self._lifecycle(account_id, "enable", None, now)

    def _lifecycle(
        self, account_id: str, action: str, message: str | None, now: float
    ) -> LifecycleResult:
        user = self._users.get(account_id)
        if user is None:
            return LifecycleResult.NOT_FOUND
        if not user.managed:
            return LifecycleResult.UNVERIFIED
        if user.scim:
            return LifecycleResult.MANAGED_BY_SCIM
        if user.fields["account_status"] == "closed":
            return LifecycleResult.CLOSED
        # Repeating an action is accepted and recorded (idempotent 204): the API documents no
        # conflict answer for disable/enable, and a retried request must not fail.
        active = action == "enable"
        user.fields["account_status"] = "active" if active else "inactive"
        if "access_billable" in user.fields:
            # Deactivated users are not billed; a re-activated user is billed again if they
            # have product access.
            user.fields["access_billable"] = active and bool(user.fields.get("product_access"))
        user.lifecycle.append(LifecycleEvent(action, message, format_datetime(now)))
        self._changed(account_id)
        return LifecycleResult.DONE

    # --- administration --------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        return [self.entry(account_id) for account_id in self._order]

    def entry(self, account_id: str) -> dict[str, Any]:
        """Raises KeyError for an unknown account."""
        user = self._users[account_id]
        return {
            "user": self.user_json(account_id),
            "scim": user.scim,
            "lifecycle": [event.to_json() for event in user.lifecycle],
            "claimStatus": user.claim_status,
            "platformRoles": list(user.platform_roles),
            "managementSource": user.management_source,
        }

    def add(self, fields: dict[str, Any]) -> str:
        """Adds a user from partial User fields plus optional `scim` and v2 attributes.

        v2 defaults: managed, no platform roles, managementSource from `scim`.
        """
        fields = dict(fields)
        scim = _pop_scim(fields, default=False)
        claim, roles, source = _pop_v2(fields, SimUser({}, scim), new_scim=scim)
        if "links" in fields:
            raise UserFieldError("links are computed by the simulator")
        account_id = fields.get("account_id")
        defaults: dict[str, Any] = {
            "account_type": "atlassian",
            "account_status": "active",
            "name": f"User {account_id}",
            "picture": f"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/{account_id}/128",
            "access_billable": False,
            "product_access": [],
        }
        user = canonical_user({**defaults, **_without_nulls(fields)})
        account_id = user["account_id"]
        if account_id in self._users:
            raise KeyError(account_id)
        self._users[account_id] = SimUser(
            user, scim, claim_status=claim, platform_roles=roles, management_source=source
        )
        bisect.insort(self._order, account_id)
        if claim == "managed":
            bisect.insort(self._listed, account_id)
        return str(account_id)

    def update(self, account_id: str, changes: dict[str, Any]) -> None:
        """Applies a partial User (null removes an optional field), `scim` and v2 attributes.

        managementSource null means undetermined; a change of `scim` alone moves managementSource
        with it. Raises KeyError if unknown; a refused change (UserFieldError) changes nothing.
        """
        user = self._users[account_id]
        changes = dict(changes)
        scim = _pop_scim(changes, default=user.scim)
        claim, roles, source = _pop_v2(changes, user, new_scim=None if scim == user.scim else scim)
        if "links" in changes:
            raise UserFieldError("links are computed by the simulator")
        if changes.get("account_id", account_id) != account_id:
            raise UserFieldError("account_id cannot change")
        merged = _without_nulls({**user.fields, **changes})
        user.fields = canonical_user(merged)
        user.scim = scim
        if claim != user.claim_status:
            if claim == "managed":
                bisect.insort(self._listed, account_id)
            else:
                del self._listed[bisect.bisect_left(self._listed, account_id)]
        user.claim_status, user.platform_roles, user.management_source = claim, roles, source
        self._changed(account_id)

    def remove(self, account_id: str) -> None:
        """Raises KeyError for an unknown account."""
        user = self._users.pop(account_id)
        del self._order[bisect.bisect_left(self._order, account_id)]
        if user.managed:
            del self._listed[bisect.bisect_left(self._listed, account_id)]
        self._changed(account_id)

    def _changed(self, account_id: str) -> None:
        self._encoded.pop(account_id, None)
        self._directory.pop(account_id, None)


def _pop_scim(fields: dict[str, Any], *, default: bool) -> bool:
    scim = fields.pop("scim", default)
    if not isinstance(scim, bool):
        raise UserFieldError("scim must be a boolean")
    return scim


def _pop_v2(
    fields: dict[str, Any], current: SimUser, *, new_scim: bool | None
) -> tuple[str, tuple[str, ...], str | None]:
    """claimStatus, platformRoles and managementSource from an admin request, validated.

    Without an explicit managementSource, a user whose `scim` is set (added, or changed) gets
    the source that flag implies; otherwise it keeps its own, which may disagree with `scim` on
    purpose: v2 and the lifecycle API can then be made to contradict each other.
    """
    claim = directory.check_claim_status(fields.pop("claimStatus", current.claim_status))
    roles = current.platform_roles
    if "platformRoles" in fields:
        roles = directory.check_platform_roles(fields.pop("platformRoles"))
    if "managementSource" in fields:
        source = directory.check_management_source(fields.pop("managementSource"))
    elif new_scim is not None:
        source = management_source_for(new_scim)
    else:
        source = current.management_source
    return claim, roles, source


def _without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
