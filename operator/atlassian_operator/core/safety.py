"""Know before you act: whether Atlassian lets this operator disable or enable an account.

Pure. The gate runs after intent and policy said "act" and before any lifecycle call:

1. What the v2 search says, from this listing or an older one, can stop the call: an account
   synced from an identity provider, an unmanaged account, an org or site admin (unless the org
   allows admins). An older fact still counts, because it can only stop an action: one from
   before a failed search, or one carried for a user a later search did not return.
2. Only a fact from this listing's search (`fresh`) lets the call go on its own, and only when
   it says how the account is managed. Otherwise the user management API is asked first
   (`GET /users/{id}/manage?privileges=lifecycle.enablement`), once per listing.
"""

from __future__ import annotations

from atlassian_operator.atlassian import LifecyclePermission, restriction_advice
from atlassian_operator.core.decisions import Action, Blocked, Gate
from atlassian_operator.core.directory import IDENTITY_PROVIDER, DirectoryFacts

MANAGED_BY_IDP = "ManagedByIdentityProvider"
ORGANIZATION_ADMIN = "OrganizationAdmin"
UNMANAGED_ACCOUNT = "UnmanagedAccount"

# The user management API's restriction reasons (spec `Manageability.RestrictionReason`, and the
# 403 key for an account outside the org's verified domains) as condition reasons.
_PERMISSION_REASONS = {
    "externalDirectory.scim": MANAGED_BY_IDP,
    "externalDirectory.google": MANAGED_BY_IDP,
    "forbidden.targetUnverified": UNMANAGED_ACCOUNT,
    "managedAccount": "ManagedByAnotherOrganization",
    "blocked.exportControl": "ExportControlled",
}
NOT_PERMITTED = "LifecycleNotPermitted"


def permission_reason(permission: LifecyclePermission) -> str:
    return _PERMISSION_REASONS.get(permission.reason or "", NOT_PERMITTED)


def lifecycle_gate(
    action: Action,
    who: str,
    facts: DirectoryFacts | None,
    *,
    fresh: bool,
    permission: LifecyclePermission | None,
    allow_admins: bool,
) -> Gate:
    verb = action.terms.call
    if facts is not None:
        if facts.unmanaged:
            return Gate(_unmanaged(who, verb, action))
        if facts.managed_by == IDENTITY_PROVIDER:
            return Gate(_idp(who, action))
        if action is Action.SUSPEND and facts.admin_roles and not allow_admins:
            roles = ", ".join(facts.admin_roles)
            return Gate(
                Blocked(
                    ORGANIZATION_ADMIN,
                    f"{who} holds {roles}; admins are never suspended automatically. Remove the "
                    "role in admin.atlassian.com first, or set spec.suspension.allowAdmins: true "
                    "on the AtlassianOrg",
                    action,
                )
            )
    if permission is not None:
        if permission.allowed:
            return Gate()
        reason = permission_reason(permission)
        if reason == MANAGED_BY_IDP:
            return Gate(_idp(who, action))
        if reason == UNMANAGED_ACCOUNT:
            return Gate(_unmanaged(who, verb, action))
        key = permission.reason or "no reason given"
        return Gate(
            Blocked(
                reason,
                f"Atlassian does not allow this operator to {verb} {who} ({key}): "
                f"{restriction_advice(key)}",
                action,
            )
        )
    known = facts is not None and fresh and facts.managed_by is not None
    return Gate(ask_first=not known)


def _idp(who: str, action: Action) -> Blocked:
    return Blocked(
        MANAGED_BY_IDP,
        f"{who} is managed by an identity provider (SCIM or Google Workspace): Atlassian "
        f"refuses lifecycle calls for it; "
        + (
            "deprovision it in the identity provider"
            if action is Action.SUSPEND
            else "re-enable it in the identity provider"
        ),
        action,
    )


def _unmanaged(who: str, verb: str, action: Action) -> Blocked:
    return Blocked(
        UNMANAGED_ACCOUNT,
        f"{who} is an unmanaged account (its email domain is not verified by the org): "
        f"lifecycle calls do not apply, so the operator cannot {verb} it; remove its product "
        "access in admin.atlassian.com, or verify and claim its domain",
        action,
    )
