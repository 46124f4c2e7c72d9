"""How a simulated user looks to the v2 directory API: the camelCase User of the user search.

The vocabulary is API-NOTES-v2 §9's. Its enums are open for clients, but the simulator must
never emit a value outside them; the v2 contract tests hold it to that. Everything v2 shows that
v1 does not (nickname, two-step verification, when the user joined, groups) is derived from the
account id and the v1 fields, so it is stable per seed and costs the v1 listing nothing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from atlassian_operator.simulator.population import ORG_ADMIN, REFERENCE_TIME
from atlassian_operator.simulator.schema import UserFieldError

# --- §9 vocabulary ------------------------------------------------------------------------------

STATUSES = ("active", "suspended", "not_invited", "deactivated", "for_deletion")
ACCOUNT_STATUSES = ("active", "inactive", "closed")
MEMBERSHIP_STATUSES = ("active", "suspended", "no_membership")
CLAIM_STATUSES = ("managed", "unmanaged")
MANAGEMENT_SOURCES = ("invited", "synced")
PLATFORM_ROLES = (
    "atlassian/org-admin", "atlassian/site-admin", "atlassian/user-access-admin",
    "atlassian/ai-access",
)  # fmt: skip
ROLE_IDS = (
    "atlassian/user", "atlassian/admin", "atlassian/guest", "atlassian/customer",
    "atlassian/user-access-admin", "atlassian/contributor", "atlassian/basic",
    "atlassian/stakeholder", "atlassian/org-admin", "atlassian/site-admin", "atlassian/ai-access",
)  # fmt: skip
EXPAND = ("platformRoles", "counts.resources", "productAccess", "groups")
# The field each expand value adds; without the expand the field is omitted (§1.5, §10.5).
EXPAND_FIELDS = {
    "platformRoles": "platformRoles",
    "counts.resources": "counts",
    "productAccess": "productAccess",
    "groups": "groups",
}

# v1 product keys -> v2 `productAccess[].key` and ARI product segment. §1.5 gives `jira` and
# `confluence` as v2 examples and §10.4 leaves the rest open: every Jira flavour becomes `jira`,
# anything else keeps its v1 key.
_V2_PRODUCT_KEYS = {
    "jira-software": "jira",
    "jira-service-desk": "jira",
    "jira-core": "jira",
    "jira-ops": "jira",
}

_FRACTIONAL = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})"
)
_DAY = 86_400


class DirectoryFieldError(UserFieldError):
    """An admin request would give a user a v2 attribute outside §9."""


def check_claim_status(value: Any) -> str:
    if value not in CLAIM_STATUSES:
        raise DirectoryFieldError(f"claimStatus must be one of {list(CLAIM_STATUSES)}")
    return str(value)


def check_platform_roles(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(role in PLATFORM_ROLES for role in value):
        raise DirectoryFieldError(
            f"platformRoles must be a list of values from {list(PLATFORM_ROLES)}"
        )
    return tuple(dict.fromkeys(value))


def check_management_source(value: Any) -> str | None:
    if value is not None and value not in MANAGEMENT_SOURCES:
        raise DirectoryFieldError(
            f"managementSource must be one of {list(MANAGEMENT_SOURCES)} or null (undetermined)"
        )
    return None if value is None else str(value)


def directory_id_for(org_id: str) -> str:
    """The org's one directory (centralized user management has exactly one, §1.1)."""
    return _uuid(f"directory:{org_id}")


def site_cloud_id(host: str) -> str:
    """A UUID-like cloud id per site host: one site's Jira and Confluence share it (§3.4)."""
    return _uuid(f"site:{host}")


def product_ari(v1_key: str, url: str | None, name: str) -> str:
    return f"ari:cloud:{v2_product_key(v1_key)}::site/{site_cloud_id(_site_host(url, name))}"


def v2_product_key(v1_key: str) -> str:
    return _V2_PRODUCT_KEYS.get(v1_key, v1_key)


def directory_user(
    fields: dict[str, Any],
    *,
    claim_status: str,
    platform_roles: tuple[str, ...],
    management_source: str | None,
) -> dict[str, Any]:
    """The v2 User with every expand field present; `without_unexpanded` trims it per request.

    `fields` is the user in the v1 shape (schema.USER_FIELDS).
    """
    account_id: str = fields["account_id"]
    digest = hashlib.blake2b(account_id.encode(), digest_size=16).digest()
    account_status: str = fields["account_status"]
    user: dict[str, Any] = {"accountId": account_id, "accountType": "atlassian"}
    status = composite_status(account_status, "active")
    if status is not None:
        user["status"] = status
    user["accountStatus"] = account_status
    # No v2 suspend in the simulator: every listed user is an active member of the directory.
    user["membershipStatus"] = "active"
    user["addedToOrg"] = _added_to_org(digest)
    user["name"] = fields["name"]
    user["nickname"] = (fields["name"].split() or [fields["name"]])[0]
    if "email" in fields:
        user["email"] = fields["email"]
        user["emailVerified"] = True
    user["claimStatus"] = claim_status
    user["managementSource"] = management_source
    # About 70% use two-step verification; org admins always do.
    user["mfaEnabled"] = ORG_ADMIN in platform_roles or digest[0] < 179
    user["picture"] = fields["picture"]
    user["platformRoles"] = list(platform_roles)
    products = _product_access(account_id, fields.get("product_access", []))
    user["counts"] = {"resources": len(products)}
    user["productAccess"] = products
    user["groups"] = _groups(fields.get("product_access", []))
    return user


def without_unexpanded(user: dict[str, Any], expand: frozenset[str]) -> dict[str, Any]:
    dropped = {field for value, field in EXPAND_FIELDS.items() if value not in expand}
    return {name: value for name, value in user.items() if name not in dropped}


def composite_status(account_status: str, membership_status: str) -> str | None:
    """§1.5's rules. No source maps accountStatus `closed` (§10.13): None, the field is omitted."""
    if account_status == "inactive":
        return "deactivated"
    if account_status != "active":
        return None
    return {"active": "active", "suspended": "suspended", "no_membership": "not_invited"}[
        membership_status
    ]


def _product_access(account_id: str, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v2 productAccess from v1 product_access: activity per product instance, not entitlement.

    A v1 product without last_active gives no entry: "a never-accessed product leaves
    product_access empty" (§1.5, §10.3). Two v1 products on one instance (e.g. Jira Software and
    Jira Service Management on one site) are one v2 entry, with the later activity.
    """
    by_id: dict[str, dict[str, Any]] = {}
    for product in products:
        if "last_active" not in product:
            continue
        ari = product_ari(product["key"], product.get("url"), product["name"])
        entry = {
            "key": v2_product_key(product["key"]),
            "id": ari,
            "lastActiveTimestamp": _nanosecond_timestamp(product["last_active"], account_id, ari),
        }
        known = by_id.get(ari)
        if known is None or _instant(entry) > _instant(known):
            by_id[ari] = entry
    return list(by_id.values())


def _groups(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One product-access group per product and site, the way access is usually granted."""
    groups: dict[str, dict[str, Any]] = {}
    for product in products:
        key, host = product["key"], _site_host(product.get("url"), product["name"])
        group_id = "ari:cloud:identity::group/" + _uuid(f"group:{key}:{host}")
        name = f"{key}-users-{host.split('.')[0]}"
        groups[group_id] = {"id": group_id, "name": name, "description": None}
    return list(groups.values())


def _nanosecond_timestamp(v1_time: str, account_id: str, ari: str) -> str:
    """The v1 time in UTC with 9 fractional digits and Z, like §1.5's example.

    A v1 fraction is kept (padded); a v1 time in whole seconds gets stable sub-second digits, so
    that a client that cannot read nanoseconds fails here rather than in production.
    """
    match = _FRACTIONAL.fullmatch(v1_time)
    if match is None:  # schema.canonical_user admits nothing else; be safe all the same
        return v1_time
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    instant = datetime.fromisoformat(match["base"] + zone).astimezone(UTC)
    fraction = match["fraction"]
    if fraction is None:
        seed = hashlib.blake2b(f"{account_id}:{ari}".encode(), digest_size=4).digest()
        nanos = int.from_bytes(seed) % 1_000_000_000
    else:
        nanos = int(fraction[:9].ljust(9, "0"))
    return f"{instant.strftime('%Y-%m-%dT%H:%M:%S')}.{nanos:09d}Z"


def _instant(entry: dict[str, Any]) -> str:
    # Same layout for every entry (UTC, 9 digits): text order is time order.
    return str(entry["lastActiveTimestamp"])


def _added_to_org(digest: bytes) -> str:
    # Before any generated activity (at most 540 days back): 550 to ~1,450 days back.
    seconds_ago = 550 * _DAY + int.from_bytes(digest[1:5]) % (900 * _DAY)
    millis = int.from_bytes(digest[5:7]) % 1000
    when = datetime.fromtimestamp(REFERENCE_TIME - seconds_ago, UTC)
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{millis:03d}Z"


def _site_host(url: str | None, name: str) -> str:
    host = urlsplit(url).hostname if url else None
    # The v1 Product's url is optional; without it the product name stands for the site.
    return host or name.lower().replace(" ", "-")


def _uuid(text: str) -> str:
    return str(uuid.UUID(bytes=hashlib.blake2b(text.encode(), digest_size=16).digest()))
