"""Generates the simulator's users from a seed, so that every run with that seed is identical."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.simulator.schema import format_datetime

# Activity is spread back from a fixed instant, never from "now": the same seed must give the
# same bytes next week too.
REFERENCE_TIME = int(datetime(2026, 6, 1, 9, 0, tzinfo=UTC).timestamp())
_DAY = 86_400


@dataclass(frozen=True)
class SiteProduct:
    """One product on one site, as the v1 listing names it (site = first label of the host)."""

    key: str
    name: str
    url: str
    # How likely a user with any access has this one; tuned for a plausible mix.
    share: float


PRODUCTS: tuple[SiteProduct, ...] = (
    SiteProduct("jira-software", "Jira Software", "https://acme.atlassian.net", 0.70),
    SiteProduct("confluence", "Confluence", "https://acme.atlassian.net/wiki", 0.60),
    SiteProduct(
        "jira-service-desk", "Jira Service Management", "https://acme-support.atlassian.net", 0.25
    ),
    SiteProduct("confluence", "Confluence", "https://acme-support.atlassian.net/wiki", 0.15),
)

_FIRST = (
    "Ada", "Alan", "Amara", "Anika", "Ben", "Carla", "Chen", "Dara", "Diego", "Elena", "Emeka",
    "Farah", "Finn", "Grace", "Hana", "Ivan", "Jonas", "Kai", "Lena", "Liam", "Maya", "Mateo",
    "Nia", "Noah", "Olga", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Sara", "Tariq", "Uma",
    "Vera", "Wen", "Xavier", "Yara", "Yusuf", "Zoe", "Zoltan",
)  # fmt: skip
_LAST = (
    "Abebe", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva",
    "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Novak", "Murphy", "Lopez",
    "Kim",
)  # fmt: skip


# The org has verified (claimed) its own domain only; partners' users are unmanaged accounts.
CLAIMED_DOMAIN = "acme.example"
UNCLAIMED_DOMAIN = "partner.example"
ORG_ADMIN = "atlassian/org-admin"


def account_id_for(seed: int, index: int) -> str:
    """24 hex digits, like the classic Atlassian account ids, stable per (seed, index)."""
    return hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class ExtraUser:
    """A user generated after the ordinary ones: an org admin or an unmanaged account."""

    fields: dict[str, Any]  # the User in the v1 shape, without `links`
    claim_status: str  # "managed" | "unmanaged"
    platform_roles: tuple[str, ...]


def generate_users(count: int, seed: int, scim_every: int) -> list[tuple[dict[str, Any], bool]]:
    """Returns (User fields without `links`, synced-by-SCIM flag) in generation order."""
    rng = random.Random(seed)
    users: list[tuple[dict[str, Any], bool]] = []
    for index in range(count):
        account_id = account_id_for(seed, index)
        # int(random() * n) rather than randrange: a third of the cost, same determinism.
        first = _FIRST[int(rng.random() * len(_FIRST))]
        last = _LAST[int(rng.random() * len(_LAST))]
        roll = rng.random()
        status = "active" if roll < 0.85 else "inactive" if roll < 0.95 else "closed"
        # Dormant accounts were last seen long ago; active ones within the last half year.
        newest, oldest = (0, 180) if status == "active" else (90, 540)
        products: list[dict[str, Any]] = []
        if rng.random() >= 0.05:
            for product in PRODUCTS:
                if rng.random() < product.share:
                    products.append(_product(product, rng, newest, oldest))
            if not products:
                products.append(_product(PRODUCTS[0], rng, newest, oldest))
        user: dict[str, Any] = {
            "account_id": account_id,
            "account_type": "atlassian",
            "account_status": status,
            "name": f"{first} {last}",
            "picture": f"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/{account_id}/128",
        }
        if rng.random() >= 0.05:
            user["email"] = f"{first.lower()}.{last.lower()}{index}@acme.example"
        user["access_billable"] = status == "active" and bool(products)
        if products:
            user["last_active"] = max(p["last_active"] for p in products)
            user["product_access"] = products
        elif rng.random() < 0.5:
            # The spec makes the field optional: clients must cope with an empty list and with
            # no field at all, so users without access get either.
            user["product_access"] = []
        scim = scim_every > 0 and index % scim_every == scim_every - 1
        users.append((user, scim))
    return users


def generate_admins(count: int, seed: int) -> list[ExtraUser]:
    """Managed, active, billable users with product access who hold the org-admin role.

    Their ids, names and activity come from their own namespace and random stream, so adding
    admins leaves every ordinary user of the same seed byte-identical.
    """
    rng = random.Random(f"admins:{seed}")
    admins = []
    for number in range(1, count + 1):
        account_id = _extra_account_id(seed, "admin", number)
        first, last = _name(rng)
        products = _some_products(rng, newest=0, oldest=30)
        email = f"org.admin{number}@{CLAIMED_DOMAIN}"
        user = _extra_user(account_id, f"{first} {last}", email, products)
        admins.append(ExtraUser(user, "managed", (ORG_ADMIN,)))
    return admins


def generate_unmanaged(count: int, seed: int) -> list[ExtraUser]:
    """Active users on a domain the org has not claimed who still use its products.

    The v1 listing ("managed accounts") never shows them; the v2 search does. Some were active
    lately, some long ago: an unmanaged account keeps its product access either way.
    """
    rng = random.Random(f"unmanaged:{seed}")
    users = []
    for number in range(1, count + 1):
        account_id = _extra_account_id(seed, "unmanaged", number)
        first, last = _name(rng)
        products = _some_products(rng, newest=0, oldest=365)
        email = f"{first.lower()}.{last.lower()}{number}@{UNCLAIMED_DOMAIN}"
        user = _extra_user(account_id, f"{first} {last}", email, products)
        users.append(ExtraUser(user, "unmanaged", ()))
    return users


def _extra_account_id(seed: int, kind: str, number: int) -> str:
    return hashlib.blake2b(f"{seed}:{kind}:{number}".encode(), digest_size=12).hexdigest()


def _name(rng: random.Random) -> tuple[str, str]:
    return _FIRST[int(rng.random() * len(_FIRST))], _LAST[int(rng.random() * len(_LAST))]


def _some_products(rng: random.Random, *, newest: int, oldest: int) -> list[dict[str, Any]]:
    products = [_product(p, rng, newest, oldest) for p in PRODUCTS if rng.random() < p.share]
    return products or [_product(PRODUCTS[0], rng, newest, oldest)]


def _extra_user(
    account_id: str, name: str, email: str, products: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "account_type": "atlassian",
        "account_status": "active",
        "name": name,
        "picture": f"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/{account_id}/128",
        "email": email,
        "access_billable": True,
        "last_active": max(p["last_active"] for p in products),
        "product_access": products,
    }


def _product(product: SiteProduct, rng: random.Random, newest: int, oldest: int) -> dict[str, Any]:
    seconds_ago = newest * _DAY + int(rng.random() * (oldest - newest + 1) * _DAY)
    return {
        "key": product.key,
        "name": product.name,
        "url": product.url,
        "last_active": _timestamp(REFERENCE_TIME - seconds_ago),
    }


_day_prefixes: dict[int, str] = {}


def _timestamp(epoch_seconds: int) -> str:
    """format_datetime's output, several times faster: strftime dominated generating 50k users."""
    day, second = divmod(epoch_seconds, _DAY)
    prefix = _day_prefixes.get(day)
    if prefix is None:
        prefix = _day_prefixes[day] = format_datetime(day * _DAY)[:11]
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}Z"
