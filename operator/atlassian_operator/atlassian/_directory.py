"""Typed views of the v2 user search (`MultiDirectoryUser`), lenient where the spec is open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WrapSerializer
from pydantic.alias_generators import to_camel

from ._models import UnreadableTime, _dump_time, _parse_last_active, newest_time
from .v2_choices import trim_fraction

__all__ = ["DirectoryListing", "DirectoryPage", "DirectoryProductAccess", "DirectoryUser"]


def _parse_timestamp(value: Any) -> datetime | UnreadableTime | None:
    # Nanosecond fractions (the spec's own example) are cut to microseconds first; otherwise
    # read as v1's last_active is, and an unreadable time keeps the text Atlassian sent.
    if not isinstance(value, str):
        return _parse_last_active(value)
    parsed = _parse_last_active(trim_fraction(value))
    return UnreadableTime(value.strip()) if isinstance(parsed, UnreadableTime) else parsed


Timestamp = Annotated[
    datetime | UnreadableTime | None, PlainValidator(_parse_timestamp), WrapSerializer(_dump_time)
]


def _none_as_empty(value: Any) -> Any:
    return () if value is None else value


# Unknown fields are kept (the API grows), enums are open (`str`: an unknown value is data, not
# an error, API-NOTES-v2 §1.5), and instances are values that never change. Field names are
# snake_case; the JSON is camelCase, and either reads.
_CONFIG = ConfigDict(extra="allow", frozen=True, alias_generator=to_camel, populate_by_name=True)


class DirectoryProductAccess(BaseModel):
    """Activity in one product instance (`MultiDirectoryProductAccess`): not an entitlement."""

    model_config = _CONFIG

    #: "jira", "confluence", ...: not an enum.
    key: str | None = None
    #: The product instance's ARI, e.g. "ari:cloud:confluence::site/<cloud id>".
    id: str | None = None
    last_active: Timestamp = Field(default=None, alias="lastActiveTimestamp")


class DirectoryUser(BaseModel):
    """One user of the v2 search (`MultiDirectoryUser`): the spec requires no field at all."""

    model_config = _CONFIG

    # The join key with the v1 listing: a user without one is of no use and fails the page.
    account_id: str = Field(min_length=1)
    #: "atlassian" in the v2 spec.
    account_type: str | None = None
    #: Composite: "active" | "suspended" | "not_invited" | "deactivated" | "for_deletion".
    status: str | None = None
    #: "active" | "inactive" | "closed".
    account_status: str | None = None
    #: "active" | "suspended" | "no_membership".
    membership_status: str | None = None
    #: "managed" (email domain claimed by the org) | "unmanaged".
    claim_status: str | None = None
    #: "invited" | "synced" (from an identity provider) | None (Atlassian could not tell).
    management_source: str | None = None
    #: "atlassian/org-admin", "atlassian/site-admin", ...; only with expand=platformRoles.
    platform_roles: Annotated[tuple[str, ...], BeforeValidator(_none_as_empty)] = ()
    email: str | None = None
    name: str | None = None
    added_to_org: Timestamp = None
    #: Only with expand=productAccess.
    product_access: Annotated[
        tuple[DirectoryProductAccess, ...], BeforeValidator(_none_as_empty)
    ] = ()

    @property
    def last_active(self) -> datetime | UnreadableTime | None:
        """The newest activity in any product instance (unreadable when one is), or None."""
        return newest_time(p.last_active for p in self.product_access)


class _CursorLinks(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    self_: str | None = Field(default=None, alias="self")
    prev: str | None = None
    next: str | None = None


class DirectoryPage(BaseModel):
    """One page of the v2 search (`MultiDirectoryUserSearchPage`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Required by the spec; a page without it is an error body or a proxy's reply.
    data: list[DirectoryUser]
    links: _CursorLinks | None = None

    @property
    def next(self) -> str | None:
        """The next page's cursor (or a URL carrying one); None on the last page."""
        if self.links is None or not self.links.next or not self.links.next.strip():
            return None
        return self.links.next


@dataclass(frozen=True)
class DirectoryListing:
    """Every user one v2 search returned, across all its pages."""

    users: list[DirectoryUser]
    #: Account IDs that came more than once (cursor paging over a changing org); the later
    #: copy is the one kept.
    duplicates: tuple[str, ...] = ()
    #: Pages read, i.e. requests made without counting retries.
    pages: int = 0
