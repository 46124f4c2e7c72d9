"""The Atlassian -> Kubernetes mapping of account states and product access, per the seed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from atlassian_operator.atlassian import Product, UnreadableTime

ACTIVE = "Active"
SUSPENDED = "Suspended"
DEPROVISIONED = "Deprovisioned"

# `deleted` is ours, not Atlassian's: the user is missing from a complete listing.
DELETED = "deleted"

_ACCOUNT_STATES = {
    "active": ACTIVE,
    "inactive": SUSPENDED,
    "closed": DEPROVISIONED,
    DELETED: DEPROVISIONED,
}


def account_state(atlassian_status: str) -> str | None:
    """Active / Suspended / Deprovisioned, or None for a status Atlassian may add later."""
    return _ACCOUNT_STATES.get(atlassian_status)


def site_name(url: str | None) -> str | None:
    """The site of a product: the first label of its URL's host (`acme` for acme.atlassian.net)."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket: label the product by its name alone
        return None
    return host.split(".", 1)[0] if host else None


def product_label(name: str, url: str | None) -> str:
    """`Confluence (acme)`: the product name and the site it is on."""
    site = site_name(url)
    return f"{name} ({site})" if site else name


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, the form Kubernetes uses for `date-time` fields."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def activity_timestamp(value: datetime | UnreadableTime | None) -> str | None:
    """A last-active time for status; an unreadable one is left out, since the field is a
    date-time: the account's Ready condition and the org's Synced condition say it was sent."""
    return timestamp(value) if isinstance(value, datetime) else None


def parse_time(text: str) -> datetime | None:
    """The inverse of `timestamp`; None for anything else."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def product_entry(product: Product) -> dict[str, Any]:
    site = site_name(product.url)
    entry: dict[str, Any] = {
        "product": product_label(product.name, product.url),
        "key": product.key,
        "name": product.name,
        "status": ACTIVE,
    }
    if site:
        entry["site"] = site
    if product.url:
        entry["url"] = product.url
    if (last_active := activity_timestamp(product.last_active)) is not None:
        entry["lastActive"] = last_active
    return entry


#: What every productAccess entry carries: the CRD requires them, the operator always writes them.
ENTRY_FIELDS = ("product", "key", "name", "status")


def _complete(entry: object) -> bool:
    """Whether a stored entry can be kept. One without these was not written by this version
    (by hand, by a restore tool, by an older operator): it is treated as not there, and the
    operator's next write of the status drops it."""
    return isinstance(entry, Mapping) and all(isinstance(entry.get(f), str) for f in ENTRY_FIELDS)


def _identity(entry: Mapping[str, Any]) -> tuple[str, str]:
    return (str(entry.get("key", "")), str(entry.get("url") or entry.get("name", "")))


def product_access(
    previous: Sequence[Mapping[str, Any]], current: Iterable[Product]
) -> list[dict[str, Any]]:
    """Current products as Active; products seen before and no longer returned as Deprovisioned.

    A product is one key on one site (its URL); a deprovisioned entry keeps its last active time.
    """
    entries = {_identity(e): e for e in (product_entry(p) for p in current)}
    for old in previous:
        if _complete(old) and _identity(old) not in entries:
            entries[_identity(old)] = {**old, "status": DEPROVISIONED}
    return sorted(entries.values(), key=lambda e: (e["product"], e.get("url", "")))


def deprovisioned(previous: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every entry of a user that no longer exists is Deprovisioned."""
    return product_access(previous, ())
