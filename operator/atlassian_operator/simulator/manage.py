"""What `GET /users/{account_id}/manage` says the org's key may do to one managed account.

Shapes from admin_user.json (`Manageability.Rule.Simple`, `...ObjectMutability`) and API-NOTES-v2
§5. An account synced from an identity provider (the simulator's `scim` flag) refuses what the
provider owns, with reason `externalDirectory.scim`, the reason lifecycle calls refuse it with;
everything else is allowed. Unknown, unmanaged and closed accounts never get here (api.py).
"""

from __future__ import annotations

from typing import Any

PRIVILEGES = (
    "profile", "profile.write", "profile.read", "email.set", "lifecycle.enablement",
    "lifecycle.delete", "apiToken.read", "apiToken.delete",
)  # fmt: skip
# §10.15 leaves open whether unrequested privileges are returned: only requested ones are, and a
# request naming none is answered for the one the operator asks about.
DEFAULT_PRIVILEGES = ("lifecycle.enablement",)
# What an identity provider writes, and so what an admin may not change for a synced account.
_PROVIDER_OWNED = frozenset(
    {"lifecycle.enablement", "lifecycle.delete", "email.set", "name", "nickname",
     "extended_profile.job_title", "extended_profile.department",
     "extended_profile.organization", "extended_profile.location"}
)  # fmt: skip
_PROFILE_PATHS = (
    "name", "nickname", "zoneinfo", "locale", "extended_profile.job_title",
    "extended_profile.organization", "extended_profile.department", "extended_profile.location",
)  # fmt: skip


class PrivilegeError(ValueError):
    """A `privileges` value outside the spec's enum."""


def parse_privileges(values: list[str]) -> tuple[str, ...]:
    """The requested privileges, from repeated parameters, comma-joined ones, or both (§10.15)."""
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    unknown = sorted(set(names) - set(PRIVILEGES))
    if unknown:
        raise PrivilegeError(f"unknown privileges {unknown}; known: {list(PRIVILEGES)}")
    return tuple(dict.fromkeys(names)) or DEFAULT_PRIVILEGES


def permissions(privileges: tuple[str, ...], *, synced: bool) -> dict[str, Any]:
    """The 200 body: one rule per requested privilege."""
    answer: dict[str, Any] = {}
    for privilege in privileges:
        if privilege in ("profile", "profile.write"):
            answer[privilege] = {path: _rule(path, synced) for path in _PROFILE_PATHS}
        else:
            answer[privilege] = _rule(privilege, synced)
    return answer


def _rule(what: str, synced: bool) -> dict[str, Any]:
    if synced and what in _PROVIDER_OWNED:
        return {"allowed": False, "reason": {"key": "externalDirectory.scim"}}
    return {"allowed": True}
