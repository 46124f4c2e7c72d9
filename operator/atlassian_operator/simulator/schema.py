"""The v1 User shape from the official spec, so that users added through /_sim stay in contract."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# Mirrors components.schemas.User/Product of admin_organization.json; the contract tests check
# these against the spec file itself.
ACCOUNT_TYPES = ("atlassian", "customer", "app")
ACCOUNT_STATUSES = ("active", "inactive", "closed")
PRODUCT_KEYS = (
    "jira-software", "jira-service-desk", "jira-core", "jira-ops", "stride", "hipchat",
    "confluence", "bitbucket", "trello", "opsgenie", "statuspage",
)  # fmt: skip
# Serialisation order of a User and a Product, the order of the official example.
USER_FIELDS = (
    "account_id", "account_type", "account_status", "name", "picture", "email",
    "access_billable", "last_active", "product_access",
)  # fmt: skip
PRODUCT_FIELDS = ("key", "name", "url", "last_active")
_REQUIRED_USER_FIELDS = ("account_id", "account_type", "account_status", "name", "picture")
ACCOUNT_ID = re.compile(r"[a-zA-Z0-9_|:-]{1,128}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")


class UserFieldError(ValueError):
    """An admin request would put a User out of the spec's shape."""


def format_datetime(epoch_seconds: int | float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_user(fields: dict[str, Any]) -> dict[str, Any]:
    """Validates a complete User (without `links`) and returns it in serialisation order."""
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise UserFieldError(f"fields not in the spec's User: {sorted(unknown)}")
    for name in _REQUIRED_USER_FIELDS:
        if name not in fields:
            raise UserFieldError(f"{name} is required")
    if not isinstance(fields["account_id"], str) or not ACCOUNT_ID.fullmatch(fields["account_id"]):
        raise UserFieldError("account_id must match [a-zA-Z0-9_|:-]{1,128}")
    _check_enum(fields, "account_type", ACCOUNT_TYPES)
    _check_enum(fields, "account_status", ACCOUNT_STATUSES)
    for name in ("name", "picture", "email"):
        if name in fields and not isinstance(fields[name], str):
            raise UserFieldError(f"{name} must be a string")
    if "access_billable" in fields and not isinstance(fields["access_billable"], bool):
        raise UserFieldError("access_billable must be a boolean")
    if "last_active" in fields:
        _check_datetime(fields["last_active"], "last_active")
    if "product_access" in fields:
        products = fields["product_access"]
        if not isinstance(products, list):
            raise UserFieldError("product_access must be a list")
        fields = {**fields, "product_access": [_canonical_product(p) for p in products]}
    return {name: fields[name] for name in USER_FIELDS if name in fields}


def _canonical_product(product: Any) -> dict[str, Any]:
    if not isinstance(product, dict):
        raise UserFieldError("each product_access entry must be an object")
    unknown = set(product) - set(PRODUCT_FIELDS)
    if unknown:
        raise UserFieldError(f"fields not in the spec's Product: {sorted(unknown)}")
    if "name" not in product or not isinstance(product["name"], str):
        raise UserFieldError("product name is required and must be a string")
    _check_enum(product, "key", PRODUCT_KEYS)
    if "url" in product and not isinstance(product["url"], str):
        raise UserFieldError("product url must be a string")
    if "last_active" in product:
        _check_datetime(product["last_active"], "product last_active")
    return {name: product[name] for name in PRODUCT_FIELDS if name in product}


def _check_enum(fields: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    if fields.get(name) not in allowed:
        raise UserFieldError(f"{name} must be one of {list(allowed)}")


def _check_datetime(value: Any, name: str) -> None:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise UserFieldError(f"{name} must be an ISO 8601 date-time such as 2026-05-31T12:00:00Z")
