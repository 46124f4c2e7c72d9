"""The v2 user search's request: its validation, its filters, its order and its cursors.

Shapes from API-NOTES-v2 §1.2 and §9 (UserSearchRequest). What no source settles is decided here:
- Filters combine with AND across fields and OR within an array (§1.2: "the natural reading");
  an empty array filters nothing, like an absent one.
- `roleIds` matches the user's platform roles; the product roles (`atlassian/user`, ...) are not
  modelled, so they match nobody (§10.6).
- `directoryIds` matches when it names the org's one directory; `resourceIds` matches a user
  with activity on that product instance (`productAccess[].id`), and a platform site ARI
  (`ari:cloud:platform::site/<cloudId>`) matches activity on any product of that site;
  `groupIds` matches the simulator's product-access groups; `mfaEnabled` matches the flag.
- `limit` is 1..100 (§9: "simulator max 100"); no array has a maximum length (§10.1).
- A cursor carries the whole request it continues: with one, the other fields are still
  validated but the cursor's copy wins, `limit` included (§1.3, §10.2), as the GET variants
  document ("if present, all other parameters are discarded").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from atlassian_operator.simulator.directory import (
    ACCOUNT_STATUSES,
    CLAIM_STATUSES,
    EXPAND,
    MEMBERSHIP_STATUSES,
    ROLE_IDS,
    STATUSES,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_STRING_LISTS = ("accountIds", "directoryIds", "resourceIds", "groupIds", "emailDomains", "emails")
_ENUM_LISTS: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "accountStatus": ACCOUNT_STATUSES,
    "membershipStatus": MEMBERSHIP_STATUSES,
    "roleIds": ROLE_IDS,
    "expand": EXPAND,
}
_FIELDS = frozenset(
    {"cursor", "limit", "mfaEnabled", "claimStatus", "searchTerm", "sortBy"}
    | set(_STRING_LISTS)
    | set(_ENUM_LISTS)
)
_SORT_FIELDS = ("nick_name",)
_SORT_DIRECTIONS = ("asc", "desc")
_PLATFORM_SITE = "ari:cloud:platform::site/"


class SearchRequestError(ValueError):
    """The body is not a UserSearchRequest (§9); the message says why, for the 400's detail."""


class InvalidCursor(ValueError):
    """The cursor was not issued by this simulator."""


@dataclass(frozen=True)
class SearchQuery:
    """A valid UserSearchRequest without its cursor: what the pages of one search share."""

    body: dict[str, Any]
    _sets: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sets = {name: frozenset(self.body.get(name) or ()) for name in _STRING_LISTS}
        sets.update({name: frozenset(self.body.get(name) or ()) for name in _ENUM_LISTS})
        sets["emails"] = frozenset(email.casefold() for email in sets["emails"])
        sets["emailDomains"] = frozenset(domain.casefold() for domain in sets["emailDomains"])
        object.__setattr__(self, "_sets", sets)

    @property
    def limit(self) -> int:
        return int(self.body.get("limit", DEFAULT_LIMIT))

    @property
    def expand(self) -> frozenset[str]:
        return self._sets["expand"]

    @property
    def sort_descending(self) -> bool | None:
        """None: the default order (ascending account id); else by nickname in that direction."""
        sort = self.body.get("sortBy")
        if not sort:
            return None
        return bool(sort[0]["direction"] == "desc")

    def matches(self, user: dict[str, Any], directory_id: str) -> bool:
        """Whether a v2 User (with every expand field, directory.directory_user) is selected."""
        sets, body = self._sets, self.body
        if sets["accountIds"] and user["accountId"] not in sets["accountIds"]:
            return False
        if sets["directoryIds"] and directory_id not in sets["directoryIds"]:
            return False
        for name in ("status", "accountStatus", "membershipStatus"):
            if sets[name] and user.get(name) not in sets[name]:
                return False
        if "claimStatus" in body and user["claimStatus"] != body["claimStatus"]:
            return False
        if "mfaEnabled" in body and user["mfaEnabled"] is not body["mfaEnabled"]:
            return False
        if sets["roleIds"] and sets["roleIds"].isdisjoint(user["platformRoles"]):
            return False
        if sets["resourceIds"] and not self._on_resource(user):
            return False
        if sets["groupIds"] and sets["groupIds"].isdisjoint(g["id"] for g in user["groups"]):
            return False
        email = str(user.get("email", "")).casefold()
        if sets["emailDomains"] and email.rpartition("@")[2] not in sets["emailDomains"]:
            return False
        if sets["emails"] and email not in sets["emails"]:
            return False
        term = str(body.get("searchTerm", "")).casefold()
        return not term or term in user["name"].casefold() or term in email

    def _on_resource(self, user: dict[str, Any]) -> bool:
        wanted = self._sets["resourceIds"]
        for product in user["productAccess"]:
            ari = product["id"]
            if ari in wanted or _PLATFORM_SITE + ari.rpartition("site/")[2] in wanted:
                return True
        return False


@dataclass(frozen=True)
class SearchStart:
    """Where one page of a search starts: the query, after which position, and its number."""

    query: SearchQuery
    position: str | tuple[str, str] | None  # the last user of the previous page, in its order
    page: int  # 1-based; what faults match on


def parse_request(body: Any) -> SearchStart:
    """Validates a request body; raises SearchRequestError or, for its cursor, InvalidCursor."""
    query = _query(body)
    cursor = body.get("cursor")
    if cursor is None:
        return SearchStart(query, None, 1)
    return decode_cursor(cursor)


def _query(body: Any) -> SearchQuery:
    if not isinstance(body, dict):
        raise SearchRequestError("the body must be a JSON object (UserSearchRequest)")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise SearchRequestError(f"unknown fields: {unknown}")
    if "cursor" in body and not isinstance(body["cursor"], str):
        raise SearchRequestError("cursor must be a string")
    if "limit" in body:
        limit = body["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise SearchRequestError("limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            raise SearchRequestError(f"limit must be between 1 and {MAX_LIMIT}")
    if "mfaEnabled" in body and not isinstance(body["mfaEnabled"], bool):
        raise SearchRequestError("mfaEnabled must be a boolean")
    if "claimStatus" in body and body["claimStatus"] not in CLAIM_STATUSES:
        raise SearchRequestError(f"claimStatus must be one of {list(CLAIM_STATUSES)}")
    if "searchTerm" in body and not isinstance(body["searchTerm"], str):
        raise SearchRequestError("searchTerm must be a string")
    for name in _STRING_LISTS:
        value = body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SearchRequestError(f"{name} must be an array of strings")
    for name, allowed in _ENUM_LISTS.items():
        value = body.get(name, [])
        if not isinstance(value, list) or not all(item in allowed for item in value):
            raise SearchRequestError(f"{name} must be an array of values from {list(allowed)}")
    if "searchTerm" in body and "emails" in body:
        raise SearchRequestError("searchTerm and emails are mutually exclusive")
    if "sortBy" in body:
        _check_sort(body["sortBy"])
    return SearchQuery({name: value for name, value in body.items() if name != "cursor"})


def _check_sort(sort: Any) -> None:
    # §1.2: "null/absent = default order"; only one sort field is supported.
    if sort is None:
        return
    if not isinstance(sort, list) or len(sort) > 1:
        raise SearchRequestError("sortBy must be an array of at most one item")
    for item in sort:
        if (
            not isinstance(item, dict)
            or set(item) != {"field", "direction"}
            or item["field"] not in _SORT_FIELDS
            or item["direction"] not in _SORT_DIRECTIONS
        ):
            raise SearchRequestError(
                'sortBy items are {"field": "nick_name", "direction": "asc"|"desc"}'
            )


# --- cursors -------------------------------------------------------------------------------------

# A cursor is base64url (no padding) of: a 4-byte tag, a format byte, and the compact JSON
# [1, page, position, query] (zlib-compressed when that is shorter). The tag only tells our
# tokens from anything else; it is no secret. Fields are renamed and enum values numbered so
# that an ordinary request's cursor stays short (~70 characters); decoding validates the query
# again, exactly as a request body.

_TAG_KEY = b"atlassian-simulator/v2-search"
_SHORT = {
    "limit": "l", "accountIds": "a", "directoryIds": "d", "resourceIds": "r", "groupIds": "g",
    "mfaEnabled": "m", "claimStatus": "c", "status": "s", "accountStatus": "A",
    "membershipStatus": "M", "roleIds": "R", "emailDomains": "D", "searchTerm": "t",
    "emails": "e", "expand": "x", "sortBy": "o",
}  # fmt: skip
_LONG = {short: name for name, short in _SHORT.items()}
_NUMBERED: dict[str, tuple[str, ...]] = {**_ENUM_LISTS, "claimStatus": CLAIM_STATUSES}
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def encode_cursor(start: SearchStart) -> str:
    compact = {_SHORT[name]: _number(name, value) for name, value in start.query.body.items()}
    position = list(start.position) if isinstance(start.position, tuple) else start.position
    payload = json.dumps([1, start.page, position, compact], separators=(",", ":")).encode()
    packed = zlib.compress(payload, 9)
    raw = b"z" + packed if len(packed) < len(payload) else b"j" + payload
    tag = hashlib.blake2b(raw, digest_size=4, key=_TAG_KEY).digest()
    return base64.urlsafe_b64encode(tag + raw).decode().rstrip("=")


def decode_cursor(text: str) -> SearchStart:
    if not _TOKEN.fullmatch(text):
        raise InvalidCursor(text)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor(text) from error
    tag, raw = data[:4], data[4:]
    if len(raw) < 2 or hashlib.blake2b(raw, digest_size=4, key=_TAG_KEY).digest() != tag:
        raise InvalidCursor(text)
    try:
        payload = zlib.decompress(raw[1:]) if raw[:1] == b"z" else raw[1:]
        version, page, position, compact = json.loads(payload)
        body = {_LONG[short]: _unnumber(_LONG[short], value) for short, value in compact.items()}
        query = _query(body)
    except (zlib.error, ValueError, TypeError, KeyError, IndexError) as error:
        raise InvalidCursor(text) from error
    numbered = isinstance(page, int) and not isinstance(page, bool) and page >= 1
    # Page 1 (only ever named by its own `self`) is the one page without a position.
    if version != 1 or not numbered or (page == 1) != (position is None):
        raise InvalidCursor(text)
    sorted_by_nickname = query.sort_descending is not None
    if sorted_by_nickname and position is not None:
        if not (isinstance(position, list) and len(position) == 2):
            raise InvalidCursor(text)
        position = (str(position[0]), str(position[1]))
    elif position is not None and not isinstance(position, str):
        raise InvalidCursor(text)
    return SearchStart(query, position, page)


def _number(name: str, value: Any) -> Any:
    allowed = _NUMBERED.get(name)
    if allowed is None:
        return value
    if isinstance(value, list):
        return [allowed.index(item) for item in value]
    return allowed.index(value)


def _unnumber(name: str, value: Any) -> Any:
    allowed = _NUMBERED.get(name)
    if allowed is None:
        return value
    if isinstance(value, list):
        return [allowed[index] for index in value]
    return allowed[value]
