"""The simulated organization: its users in listing order, their lifecycle, and the pages."""

from __future__ import annotations

import bisect
import enum
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from atlassian_operator.simulator import paging
from atlassian_operator.simulator.population import generate_users
from atlassian_operator.simulator.schema import UserFieldError, canonical_user, format_datetime


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


class LifecycleResult(enum.Enum):
    DONE = "done"
    NOT_FOUND = "not_found"
    MANAGED_BY_SCIM = "managed_by_scim"
    CLOSED = "closed"


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, from the position of the first user; what faults match on
    account_ids: list[str]
    next_cursor: str | None
    prev_cursor: str | None


class OrgState:
    """All users of the one simulated org, kept sorted by account id for stable paging."""

    def __init__(self, *, org_id: str, users: int, seed: int, page_size: int, scim_every: int):
        self.org_id = org_id
        self.page_size = page_size
        self.base_url = ""  # known once the socket is bound; set before the first request
        self._users: dict[str, SimUser] = {}
        for fields, scim in generate_users(users, seed, scim_every):
            self._users[fields["account_id"]] = SimUser(fields, scim)
        self._order = sorted(self._users)
        # Serialised users, filled lazily and dropped on change: a page then costs
        # O(page size) however large the org, and 50k users start in well under a second.
        self._encoded: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._order)

    # --- listing ---------------------------------------------------------------------------

    def page(self, cursor_text: str | None) -> Page:
        """Raises paging.InvalidCursor for a cursor this simulator did not issue."""
        order, size = self._order, self.page_size
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
                b'],"meta":{"total":%d},"links":' % len(self._order),
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
        self._encoded.pop(account_id, None)
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
        }

    def add(self, fields: dict[str, Any]) -> str:
        """Adds a user from partial User fields plus an optional `scim`; returns the id."""
        fields = dict(fields)
        scim = _pop_scim(fields, default=False)
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
        self._users[account_id] = SimUser(user, scim)
        bisect.insort(self._order, account_id)
        return str(account_id)

    def update(self, account_id: str, changes: dict[str, Any]) -> None:
        """Applies a partial User (null removes an optional field). Raises KeyError if unknown."""
        user = self._users[account_id]
        changes = dict(changes)
        scim = _pop_scim(changes, default=user.scim)
        if "links" in changes:
            raise UserFieldError("links are computed by the simulator")
        if changes.get("account_id", account_id) != account_id:
            raise UserFieldError("account_id cannot change")
        merged = _without_nulls({**user.fields, **changes})
        user.fields = canonical_user(merged)
        user.scim = scim
        self._encoded.pop(account_id, None)

    def remove(self, account_id: str) -> None:
        """Raises KeyError for an unknown account."""
        del self._users[account_id]
        del self._order[bisect.bisect_left(self._order, account_id)]
        self._encoded.pop(account_id, None)


def _pop_scim(fields: dict[str, Any], *, default: bool) -> bool:
    scim = fields.pop("scim", default)
    if not isinstance(scim, bool):
        raise UserFieldError("scim must be a boolean")
    return scim


def _without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
