"""The brake on mass lifecycle calls: beyond a day's threshold, nothing goes until a person
approves the number waiting.

Pure. Suspensions and re-enables count alike, whoever asked (a `desiredState`, the inactivity
policy): a wrong policy, a bad revert in Git or a broken discovery would otherwise act on
hundreds of people, `maxPerSync` at a time. The anchor is Microsoft Entra ID's accidental
deletions prevention: a threshold per cycle puts the job in quarantine until an admin allows
it. Here the cycle is a rolling day, and the quarantine is all or nothing: when the calls made
in the last day without approval plus the calls waiting now exceed the threshold, none of the
waiting ones is sent, not even the first few (a mistake is usually the whole batch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from atlassian_operator.core.mapping import parse_time
from atlassian_operator.core.resources import GROUP

APPROVE_ANNOTATION = f"{GROUP}/approve-suspensions"
DAY_SECONDS = 86_400.0

#: The default threshold: 1 % of the org's active users a day, and never fewer than 10.
#: Normal attrition (about 15 % a year) is 0.06 % of users per working day, and a batch of
#: leavers a few tenths of a percent; a mistake (a policy switched on, a revert, a discovery
#: gone wrong) reaches tens of percent. So 1 % sits an order of magnitude above a normal day
#: and far below any mass mistake: 10 a day for a 200-person org (the floor: ten leavers a day
#: is a layoff, worth a second look), 200 for a 20,000-person org.
DEFAULT_FLOOR = 10
DEFAULT_PERCENT = 1


def default_threshold(active_users: int) -> int:
    return max(DEFAULT_FLOOR, math.ceil(active_users * DEFAULT_PERCENT / 100))


def approve_command(org: str, waiting: int, namespace: str | None = None) -> str:
    """The command that approves exactly the `waiting` calls the brake holds for AtlassianOrg
    `org`: what the ActionsPaused condition and `kubectl atlassian report` tell a person."""
    where = f" -n {namespace}" if namespace else ""
    return f"kubectl annotate atlassianorg {org}{where} {APPROVE_ANNOTATION}={waiting} --overwrite"


@dataclass(frozen=True)
class Approval:
    """The annotation as a person set it: how many calls, which field manager, when."""

    count: int
    by: str
    at: str

    def render(self) -> dict[str, Any]:
        return {"count": self.count, "by": self.by, "at": self.at}


class ApprovalUnreadable(ValueError):
    """The annotation is there but says no number; the message says what to write."""


def approval_of(meta: Mapping[str, Any]) -> Approval | None:
    """The approval on an AtlassianOrg's metadata; who set it and when, from managedFields.

    managedFields names the field manager (`kubectl-annotate`, `kubectl-client-side-apply`,
    a GitOps controller), not the person: the API server's audit log has the person.
    """
    text = (meta.get("annotations") or {}).get(APPROVE_ANNOTATION)
    if text is None:
        return None
    try:
        count = int(str(text).strip())
    except ValueError:
        count = 0
    if count < 1:
        raise ApprovalUnreadable(
            f"annotation {APPROVE_ANNOTATION}={text!r} is not a number of calls of 1 or more; "
            "set it to the number waiting, e.g. "
            f'kubectl annotate atlassianorg <name> {APPROVE_ANNOTATION}="40" --overwrite'
        )
    setters = [
        (str(entry.get("time") or ""), index, str(entry.get("manager") or "unknown"))
        for index, entry in enumerate(meta.get("managedFields") or ())
        if f"f:{APPROVE_ANNOTATION}"
        in (((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:annotations") or {})
    ]
    at, _, by = max(setters) if setters else ("", 0, "unknown")
    return Approval(count, by, at)


class Standing(StrEnum):
    """What the operator made of an approval when it first saw it (each is seen once)."""

    ACCEPTED = "Accepted"
    TOO_SMALL = "TooSmall"  # fewer than the number waiting: nobody approves a number unread
    NOTHING_PAUSED = "NothingPaused"  # no blank cheques for calls nobody has seen yet


def consider(approval: Approval, *, paused: bool, waiting: int) -> Standing:
    if not paused:
        return Standing.NOTHING_PAUSED
    return Standing.ACCEPTED if approval.count >= waiting else Standing.TOO_SMALL


@dataclass(frozen=True)
class Verdict:
    """Whether the next waiting call may go, and whether it uses the approval."""

    release: bool
    approved: bool = False


def verdict(*, made_today: int, waiting: int, threshold: int, approval_left: int) -> Verdict:
    """The brake's rule. `made_today`: calls in the last day made without approval;
    `waiting`: calls waiting now, the next one included; `approval_left`: calls an accepted
    approval still allows."""
    if approval_left > 0:
        return Verdict(True, approved=True)
    return Verdict(made_today + waiting <= threshold)


@dataclass(frozen=True)
class Considered:
    """An approval as the operator took it: kept in the org's status, so that a restarted
    operator neither uses a refused one nor grants an accepted one twice."""

    approval: Approval
    standing: Standing
    #: When it was considered: wall time for status, monotonic for counting its calls.
    at: str
    at_mono: float

    def holds_for(self, seen: Approval | ApprovalUnreadable | None) -> bool:
        """Whether the annotation as it is now is this approval. An approval is its number:
        managedFields' time moves whenever the same field manager writes any other field (a
        `kubectl annotate` of sync-requested), so it cannot tell one approval from the next.
        A new approval is a new number, or the same number after the annotation was removed."""
        return isinstance(seen, Approval) and seen.count == self.approval.count

    def render(self, used: int) -> dict[str, Any]:
        rendered = {
            **self.approval.render(),
            "standing": str(self.standing),
            "consideredAt": self.at,
        }
        if self.standing is Standing.ACCEPTED:
            rendered["used"] = used
        return rendered


@dataclass(frozen=True)
class BrakeState:
    """What the org's status shows of the brake (`status.suspensionBrake`, the ActionsPaused
    condition), and what the owner compares to know it must write it again."""

    threshold: int
    #: The threshold in words, with where it comes from: "the 10 a day of ...".
    source: str
    made_today: int
    waiting: int
    paused: bool
    approval: Considered | None = None
    used: int = 0
    #: Why the annotation cannot be read, when it cannot.
    unreadable: str | None = None

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "threshold": self.threshold,
            "madeToday": self.made_today,
            "waiting": self.waiting,
            "paused": self.paused,
        }
        if self.approval is not None:
            rendered["approval"] = self.approval.render(self.used)
        return rendered

    def condition(self, org: str) -> tuple[bool, str, str]:
        """(status, reason, message) of the org's ActionsPaused condition."""
        approve = approve_command(org, self.waiting)
        note = ""
        if self.unreadable:
            note = f"; {self.unreadable}"
        elif self.approval is not None and self.approval.standing is not Standing.ACCEPTED:
            why = (
                "fewer than the number that waited"
                if self.approval.standing is Standing.TOO_SMALL
                else "set while nothing was paused"
            )
            note = (
                f"; the approval of {self.approval.approval.count} (set by "
                f"{self.approval.approval.by} at {self.approval.approval.at}) was {why}, and "
                "is not used: set it again, to the number waiting, once the org pauses"
            )
        if self.paused:
            return (
                True,
                "MassSuspensionPaused",
                f"{self.waiting} lifecycle calls (suspensions and re-enables) wait, and "
                f"{accounts(self.made_today)} had calls in the last day without approval: "
                f"together more than {self.source} allows, so none of them is sent. Check who "
                "waits (kubectl get atlassianaccounts, kubectl atlassian report), then approve "
                f"exactly that many: {approve}{note}",
            )
        if (
            self.approval is not None
            and self.approval.standing is Standing.ACCEPTED
            and (self.used < self.approval.approval.count)
        ):
            return (
                False,
                "Approved",
                f"{self.approval.approval.by} approved {self.approval.approval.count} lifecycle "
                f"calls at {self.approval.approval.at}; {self.used} sent so far, within "
                "spec.suspension.maxPerSync",
            )
        return (
            False,
            "BelowThreshold",
            f"{accounts(self.made_today)} had lifecycle calls in the last day without approval "
            f"and {self.waiting} more wait: within {self.source}{note}",
        )


def accounts(n: int) -> str:
    return "1 account" if n == 1 else f"{n} accounts"


def restored_approval(
    approval: Approval, shown: Mapping[str, Any] | None, now: float, wall: datetime
) -> Considered | None:
    """What an operator before a restart made of this very approval, from the org's
    `status.suspensionBrake.approval`; None when it did not see it (it is considered anew)."""
    taken = (shown or {}).get("approval") or {}
    same = taken.get("count") == approval.count  # see Considered.holds_for
    at = parse_time(str(taken.get("consideredAt") or ""))
    try:
        standing = Standing(str(taken.get("standing")))
    except ValueError:
        return None
    if not same or at is None:
        return None
    # Status keeps whole seconds, and the calls an approval let out are usually made in the
    # second it was taken: a second earlier, they count against it (it is used up sooner,
    # never later).
    since = (wall - at).total_seconds() + 1.0
    kept = Approval(approval.count, str(taken.get("by") or approval.by), str(taken.get("at") or ""))
    return Considered(kept, standing, str(taken["consideredAt"]), now - since)
