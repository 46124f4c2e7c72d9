"""Kubernetes-style conditions (Ready, Synced, Enriched, and kstatus's Reconciling and Stalled),
keeping their transition time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

READY = "Ready"
SYNCED = "Synced"
ENRICHED = "Enriched"  # an org's: the v2 search of its last sync, or why there is none
#: An org's: True while the brake on mass calls holds lifecycle calls for an approval.
ACTIONS_PAUSED = "ActionsPaused"
#: An account's, under an org with an inactivity policy: the policy's verdict on it (warned,
#: eligible, waiting, refused, suspended by it: True), apart from Ready.
INACTIVITY = "Inactivity"
#: kstatus's abnormal-true pair, derived from Ready (and a recorded call) by `with_progress`:
#: Flux, `flux tree`, Argo CD and `kubectl wait` read them without knowing our reasons.
RECONCILING = "Reconciling"
STALLED = "Stalled"
#: Reconciling's reason while a lifecycle call is recorded (status.pendingAction) and unsettled.
CALL_IN_FLIGHT = "LifecycleCallInFlight"

#: Ready=False reasons that do not change until a person does something: an org's or account's
#: spec, its key, Atlassian's settings for the person, or an approval. kstatus reads Stalled as
#: Failed, so a Flux Kustomization fails at once with this reason instead of at its timeout.
#: Every other Ready=False reason is work the operator gets through by itself (a budget window,
#: a listing to come, a retry): Reconciling, which kstatus reads as InProgress.
STALLED_REASONS = frozenset(
    {
        # the org protects the person, or Atlassian does not let the operator act on them
        "ProtectedAccount",
        "ManagedByIdentityProvider",
        "OrganizationAdmin",
        "UnmanagedAccount",
        "ManagedByAnotherOrganization",
        "ExportControlled",
        "LifecycleNotPermitted",
        "ReactivationNotAllowed",
        "AccountDeprovisioned",
        # the spec, the key or the object names are wrong
        "InvalidSpec",
        "AccountNotFound",
        "IdentityChanged",
        "DuplicateAccount",
        "DuplicateOrg",
        "OrgNotFound",
        "SecretNotUsable",
        "APIBaseURLNotAllowed",
        "AuthenticationFailed",
        "Forbidden",
        "AtlassianError",  # refused for a reason not retried: fails again until something changes
        # the org asks for a person before acting
        "MassSuspensionPaused",
        "DryRun",
        "Unknown",  # an Atlassian status this operator does not know
    }
)


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str

    def render(
        self, generation: int, now: str, previous: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        status = "True" if self.status else "False"
        unchanged = previous is not None and previous.get("status") == status
        return {
            "type": self.type,
            "status": status,
            "reason": self.reason,
            "message": self.message,
            "observedGeneration": generation,
            "lastTransitionTime": (previous or {}).get("lastTransitionTime", now)
            if unchanged
            else now,
        }


def render_conditions(
    conditions: Sequence[Condition],
    previous: Sequence[Mapping[str, Any]] | None,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    by_type = {c.get("type"): c for c in previous or ()}
    return [c.render(generation, now, by_type.get(c.type)) for c in conditions]


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)


def progress(status: Mapping[str, Any]) -> tuple[Condition, Condition] | None:
    """Reconciling and Stalled for a status, from its Ready condition and its recorded call;
    None before the object has a Ready condition (kstatus then reads observedGeneration)."""
    ready = find(status.get("conditions"), READY)
    if ready is None:
        return None
    pending = status.get("pendingAction")
    reason, message = str(ready.get("reason") or ""), str(ready.get("message") or "")
    stalled = ready.get("status") == "False" and reason in STALLED_REASONS and not pending
    if pending:
        working: tuple[bool, str, str] = (
            True,
            CALL_IN_FLIGHT,
            f"the {str(pending.get('action', 'lifecycle')).lower()} of "
            f"{pending.get('accountId')} was recorded at {pending.get('time')} and is being "
            "sent; a complete listing confirms it",
        )
    elif ready.get("status") == "False" and not stalled:
        working = (True, reason, message)
    else:
        working = (False, "Idle", "nothing is in progress")
    return (
        Condition(RECONCILING, *working),
        Condition(STALLED, True, reason, message)
        if stalled
        else Condition(STALLED, False, "NotStalled", "nothing waits for a person"),
    )


def with_progress(status: dict[str, Any], previous: Mapping[str, Any], now: str) -> dict[str, Any]:
    """`status` with Reconciling and Stalled derived from it; `previous`: the status before, for
    their transition times. Every status the operator writes passes through here."""
    derived = progress(status)
    if derived is None:
        return status
    ready = find(status.get("conditions"), READY) or {}
    generation = int(ready.get("observedGeneration") or status.get("observedGeneration") or 0)
    rendered = render_conditions(derived, previous.get("conditions"), generation, now)
    if [find(status["conditions"], c.type) for c in derived] == rendered:
        return status  # already derived (by the renderer): the same object, not a copy
    kept = [c for c in status["conditions"] if c.get("type") not in (RECONCILING, STALLED)]
    return {**status, "conditions": kept + rendered}
