"""Condition reasons for the client's typed errors, and which failures are worth retrying soon."""

from __future__ import annotations

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    ListingInconsistent,
    MalformedResponse,
    OrgNotFound,
    OutcomeUnknown,
    RateLimited,
)

_REASONS: tuple[tuple[type[AtlassianError], str], ...] = (
    (AuthenticationFailed, "AuthenticationFailed"),
    (AccountNotFound, "AccountNotFound"),
    (OrgNotFound, "OrgNotFound"),
    (RateLimited, "RateLimited"),
    (AtlassianUnavailable, "AtlassianUnavailable"),
    # Before its base class: the first match wins.
    (ListingInconsistent, "ListingInconsistent"),
    (MalformedResponse, "MalformedResponse"),
    (OutcomeUnknown, "OutcomeUnknown"),
)

#: Another AtlassianOrg, created earlier, names the same `orgId`: that one alone acts for it,
#: so that one Atlassian org never has two budgets, two protected lists or two opinions.
DUPLICATE_ORG = "DuplicateOrg"


def failure_reason(error: AtlassianError) -> str:
    if isinstance(error, Forbidden):
        if (error.reason or "").startswith("externalDirectory"):
            return "ManagedByIdentityProvider"
        return "Forbidden"
    return next((reason for kind, reason in _REASONS if isinstance(error, kind)), "AtlassianError")


def is_transient(error: AtlassianError) -> bool:
    """Worth another try after a backoff; the rest wait for a change of spec, key or org."""
    return isinstance(error, RateLimited | AtlassianUnavailable | MalformedResponse)


def is_configuration_error(error: AtlassianError) -> bool:
    """The org's spec or key is wrong: the org is not Ready until someone fixes it."""
    return isinstance(error, AuthenticationFailed | Forbidden | OrgNotFound)


#: Every reason of a Ready condition the operator writes, with Ready's status under it and what
#: it means to a person. The reference page docs/reference/reasons.md is generated from this
#: (hack/docs/reference.py), and a unit test keeps STALLED_REASONS inside it, so that a reason
#: that waits for a person is never one the docs do not explain.
CONDITION_REASONS: dict[str, tuple[str, str]] = {
    "Synced": ("True", "an org: listed completely with its current spec and API key"),
    "Observed": (
        "True",
        "an account without a desired state (observe only): its status shows "
        "what the last listing said",
    ),
    "DefersToAccount": (
        "True",
        "observe only, and another AtlassianAccount states a desired "
        "state for the same user: that one acts",
    ),
    "InDesiredState": ("True", "the account is in the state its spec asks for"),
    "Deprovisioned": (
        "True",
        "the account is closed, or a complete listing no longer returns it; nothing is called",
    ),
    "LastActiveUnreadable": (
        "True",
        "Atlassian sent a last-active time in a layout the operator "
        "cannot read: the inactivity policy never takes the account up",
    ),
    "AccountNotFound": ("False", "no user of the org has this accountId or email"),
    "IdentityChanged": (
        "False",
        "the account's email now belongs to another account ID than the "
        "pinned one; set spec.accountId to say which person is meant",
    ),
    "AuthenticationFailed": (
        "False",
        "Atlassian refused the API key (401): replace the key in the Secret",
    ),
    "Forbidden": ("False", "Atlassian refused the request (403): the key may not do this"),
    "RateLimited": ("False", "Atlassian answered 429: retried after its Retry-After"),
    "AtlassianUnavailable": ("False", "no answer, a timeout or a 5xx from Atlassian: retried"),
    "MalformedResponse": ("False", "Atlassian's answer could not be read: retried"),
    "LedgerUnavailable": (
        "False",
        "the org's call ledger (ConfigMap atlassian-calls-...) cannot be read or written: no "
        "lifecycle call is made until it can (RBAC: get, create, patch configmaps); retried",
    ),
    "AtlassianError": (
        "False",
        "Atlassian refused the call for a reason not retried: it fails "
        "again until something changes",
    ),
    "ProtectedAccount": (
        "False",
        "spec.suspension.protectedAccounts of the org names the account: never suspended",
    ),
    "SuspensionBudgetExceeded": (
        "False",
        "spec.suspension.maxPerSync calls were made in the "
        "window: this one waits its turn, oldest first",
    ),
    "MassSuspensionPaused": (
        "False",
        "the brake on mass calls holds this call until a person "
        "approves the number waiting (the org's ActionsPaused condition "
        "gives the command)",
    ),
    "ManagedByIdentityProvider": (
        "False",
        "the account is synced from an identity provider: "
        "deprovision it there (Atlassian refuses the call)",
    ),
    "OrganizationAdmin": (
        "False",
        "an org or site admin: suspended only with spec.suspension.allowAdmins",
    ),
    "UnmanagedAccount": (
        "False",
        "outside the org's verified domains: Atlassian allows no lifecycle call",
    ),
    "ManagedByAnotherOrganization": (
        "False",
        "another Atlassian organization manages the "
        "account: Atlassian allows no lifecycle call from this one",
    ),
    "ExportControlled": (
        "False",
        "Atlassian restricts lifecycle calls for the account (export control)",
    ),
    "LifecycleNotPermitted": (
        "False",
        "the user management API says this key may not disable or enable the account",
    ),
    "OutcomeUnknown": (
        "False",
        "a lifecycle call timed out or got a 5xx: the next listing, "
        "within 5 s, shows whether it took effect, and the account is planned "
        "again from it",
    ),
    "ReactivationNotAllowed": (
        "False",
        "desired Active on a suspended account, and the org "
        "does not set spec.suspension.allowReactivation",
    ),
    "DryRun": (
        "False",
        "the org sets spec.suspension.dryRun: the call is recorded in lastAction, not sent",
    ),
    "AccountDeprovisioned": (
        "False",
        "a desired state for an account Atlassian has closed or removed: nothing can be called",
    ),
    "DuplicateAccount": (
        "False",
        "two AtlassianAccounts state a desired state for one user: "
        "neither acts until one is deleted or changed",
    ),
    DUPLICATE_ORG: (
        "False",
        "another AtlassianOrg, created earlier, names the same orgId: only that one acts",
    ),
    "ListingInconsistent": (
        "False",
        "a listing contradicted itself (its own total, a user "
        "twice, no end): nobody is marked Deprovisioned and nothing acts",
    ),
    "OrgNotFound": ("False", "Atlassian knows no org with spec.orgId for this key"),
    "OrgNotSynced": ("False", "the account's org has no complete listing yet"),
    "SecretNotUsable": (
        "False",
        "the API key Secret is missing, unlabelled, without the key, "
        "or in a namespace where the operator may not read Secrets",
    ),
    "APIBaseURLNotAllowed": (
        "False",
        "spec.apiBaseURL is not https://api.atlassian.com and not "
        "named by the operator's --allow-api-base-url",
    ),
    "InvalidSpec": (
        "False",
        "the spec cannot be acted on (for example a syncInterval below "
        "30s): the message says what to change",
    ),
    "InternalError": (
        "False",
        "an unexpected error in the operator: its type is named, the "
        "log has the rest; the org and its other accounts go on",
    ),
    "Unknown": ("False", "Atlassian sent an account status this operator does not know"),
}
