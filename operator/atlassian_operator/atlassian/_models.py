"""Typed views of the Organizations API user listing, checked against the official spec."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    ValidationError,
    WrapSerializer,
)

__all__ = [
    "Product",
    "UnreadableTime",
    "User",
    "UserListing",
    "UserPage",
    "format_validation_error",
    "newest_time",
]

logger = logging.getLogger("atlassian_operator.atlassian")


@dataclass(frozen=True, slots=True)
class UnreadableTime:
    """A time Atlassian sent in a layout this client cannot read, with the text it sent.

    Not the same as no time (None): "never active" lets the inactivity policy count from when a
    user was first observed, so reading an unreadable time as absent would suspend a daily user.
    A distinct type makes every reader of a time decide what an unreadable one means to it.
    """

    text: str

    def __str__(self) -> str:
        """The text as messages show it: quoted, and cut short, since it comes from outside."""
        return repr(self.text if len(self.text) <= 40 else f"{self.text[:40]}...")


def _parse_last_active(value: Any) -> datetime | UnreadableTime | None:
    """Read a spec `date-time` leniently: an aware UTC datetime, an `UnreadableTime`, or None.

    The spec says `format: date-time`, but its only example is the placeholder "<string>" and the
    real layout is an open question (API-NOTES §6.1; the sibling last-active-dates API uses plain
    dates). An unreadable time is kept as such (logged) instead of failing the page: failing
    would abort the whole org listing, and an aborted listing blocks every status update of the
    org. Only an absent, null or empty value is None. A value that is not a string at all is a
    real breach of the contract and still fails.
    """
    if value is None or isinstance(value, UnreadableTime):
        return value
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            # Python 3.11 reads RFC 3339 ("Z", offsets, fractions), minute precision
            # ("2024-05-01T10:00Z") and date-only ("2024-05-01", read as midnight).
            parsed = datetime.fromisoformat(text)
        except ValueError:
            logger.warning("an unreadable last_active value %r (not a date-time)", text)
            return UnreadableTime(text)
    else:
        raise ValueError(f"expected a date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        # The Atlassian admin APIs speak UTC; a zone-less value (or a date) is read as UTC.
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _dump_time(value: Any, dump: SerializerFunctionWrapHandler) -> Any:
    # An unreadable time dumps as the text it was read from, so that a dump reads back the same.
    return value.text if isinstance(value, UnreadableTime) else dump(value)


#: A plain validator: the parser alone decides, and an `UnreadableTime` passes through as is.
LastActive = Annotated[
    datetime | UnreadableTime | None,
    PlainValidator(_parse_last_active),
    WrapSerializer(_dump_time),
]


def newest_time(
    times: Iterable[datetime | UnreadableTime | None],
) -> datetime | UnreadableTime | None:
    """The newest of these times, None when there is none, and unreadable when any one is:
    the time nobody can read may be the newest."""
    newest: datetime | None = None
    for time in times:
        if isinstance(time, UnreadableTime):
            return time
        if time is not None and (newest is None or time > newest):
            newest = time
    return newest


#: A string that thousands of users repeat (a state, a product, a site URL): one shared copy
#: (interned) instead of one per user, which at 50,000 users is megabytes.
Repeated = Annotated[str, AfterValidator(sys.intern)]


def _none_as_empty(value: Any) -> Any:
    # `product_access: null` carries the same meaning as an absent list: no products.
    return [] if value is None else value


class Product(BaseModel):
    """One product on one site that a user can access (spec schema `Product`)."""

    # Unknown fields are kept (the API grows); instances are values and never change.
    model_config = ConfigDict(extra="allow", frozen=True)

    #: A spec enum ("jira-software", "confluence", ...), kept open: new products appear.
    key: Repeated
    name: Repeated
    #: The site URL; what tells two sites of the same product apart.
    url: Repeated | None = None
    last_active: LastActive = None


class User(BaseModel):
    """One managed account of an organization (spec schema `User`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # An empty id would address `/users//manage/...`; the spec's pattern is {1,128} characters.
    account_id: str = Field(min_length=1)
    #: "atlassian" | "customer" | "app"; unknown values are kept.
    account_type: Repeated
    #: "active" | "inactive" | "closed"; unknown values are kept.
    account_status: Repeated
    name: str
    picture: str
    #: Absent when the user has restricted the visibility of their email address.
    email: str | None = None
    access_billable: bool | None = None
    last_active: LastActive = None
    product_access: Annotated[list[Product], BeforeValidator(_none_as_empty)] = []


class _PageLinks(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    self_: str | None = Field(default=None, alias="self")
    prev: str | None = None
    next: str | None = None


class UserPage(BaseModel):
    """One page of `GET /v1/orgs/{orgId}/users` (spec schema `UserPage`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # The spec leaves `data` optional, but a page without it is not a user page (an error body
    # or a proxy's reply): reading it as "no users" would make every user look deprovisioned.
    data: list[User]
    meta: dict[str, Any] | None = None
    links: _PageLinks | None = None

    @property
    def total(self) -> int | None:
        """`meta.total`: how many users the org has, by the server's own count."""
        value = (self.meta or {}).get("total")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def next(self) -> str | None:
        """The next-page link or cursor; None (or empty) on the last page."""
        if self.links is None or not self.links.next:
            return None
        return self.links.next


@dataclass(frozen=True)
class UserListing:
    """Every user one listing returned, and what the listing said about itself."""

    users: list[User]
    #: `meta.total` of the last page, or None when the server did not say.
    reported_total: int | None = None
    #: Account IDs that came more than once (cursor paging over a changing org).
    duplicates: tuple[str, ...] = ()

    def contradiction(self) -> str | None:
        """Why this listing cannot be trusted to be the whole org, or None."""
        problems = []
        if self.reported_total is not None and self.reported_total != len(self.users):
            problems.append(
                f"it returned {len(self.users)} users while its meta.total says "
                f"{self.reported_total}"
            )
        if self.duplicates:
            repeated = sorted(set(self.duplicates))
            shown = ", ".join(repeated[:3])
            problems.append(f"it returned {len(repeated)} users more than once ({shown})")
        return "; ".join(problems) or None


def format_validation_error(error: ValidationError) -> str:
    """Say which fields are wrong, as `data[3].account_id: Field required; ...`."""
    parts: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        path = ""
        for loc in item["loc"]:
            path += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if path else str(loc))
        parts.append(f"{path or '(body)'}: {item['msg']}")
    shown = "; ".join(parts[:5])
    if len(parts) > 5:
        shown += f"; and {len(parts) - 5} more"
    return shown
