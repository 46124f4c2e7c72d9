"""What the user management API says the key may do to an account (`GET /users/{id}/manage`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .v2_choices import LIFECYCLE_PRIVILEGE

__all__ = ["TARGET_UNVERIFIED", "LifecyclePermission", "read_lifecycle_permission"]

#: The 403 key that answers the question rather than refusing it: the account's email domain
#: is not verified by the org, so the org does not manage it (spec
#: `Response.Forbidden.TargetUnverified`).
TARGET_UNVERIFIED = "forbidden.targetUnverified"


@dataclass(frozen=True)
class LifecyclePermission:
    """Whether the key may disable and enable the account, and if not, why.

    `reason` is the spec's restriction reason ("externalDirectory.scim", "administrative",
    "managedAccount", ... kept open) or "forbidden.targetUnverified" for an account the org
    does not manage; None when allowed.
    """

    allowed: bool
    reason: str | None = None


def read_lifecycle_permission(body: Any) -> LifecyclePermission:
    """Read a 200 body; ValueError says how it strays from `Manageability.Rule.Simple`."""
    if not isinstance(body, dict):
        raise ValueError(f"expected a JSON object, got {type(body).__name__}")
    if LIFECYCLE_PRIVILEGE not in body:
        raise ValueError(f"it has no {LIFECYCLE_PRIVILEGE!r} key (keys: {sorted(body)[:5]})")
    rule = body[LIFECYCLE_PRIVILEGE]
    if not isinstance(rule, dict) or not isinstance(rule.get("allowed"), bool):
        raise ValueError(f"{LIFECYCLE_PRIVILEGE} is not a rule with a boolean 'allowed'")
    if rule["allowed"]:
        return LifecyclePermission(allowed=True)
    # Manageability.Unallowed requires the reason; without it the answer cannot be acted on.
    reason = rule.get("reason")
    key = reason.get("key") if isinstance(reason, dict) else None
    if not isinstance(key, str) or not key:
        raise ValueError(f"{LIFECYCLE_PRIVILEGE} is not allowed but gives no reason.key")
    return LifecyclePermission(allowed=False, reason=key)
