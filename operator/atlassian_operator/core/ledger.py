"""The ledger of an Atlassian org's lifecycle calls: the record that outlives the objects.

The org's `status.budget` and the accounts' `lastAction` / `pendingAction` go with their
objects. Delete the AtlassianOrg and the AtlassianAccount that asked (a bad commit pruned the
directory, then a revert), restart the operator meanwhile, and nothing Kubernetes holds would say
that a call was made: the budget's window and the brake's day would start afresh. The ledger is
a ConfigMap in the org's namespace, named after the Atlassian org ID (not the object), which the
operator never deletes; every call is in it before it is sent, with whom it was for and whether
a person approved it. Deleting the namespace deletes it too, with every object it could count
for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from atlassian_operator.core.mapping import parse_time
from atlassian_operator.core.resources import GROUP

LEDGER_PREFIX = "atlassian-calls-"
LEDGER_LABEL = f"{GROUP}/call-ledger"
#: The reason of an org that cannot read its ledger, and of an account whose call waits until
#: the ledger can be written.
LEDGER_UNAVAILABLE = "LedgerUnavailable"


class LedgerUnreadable(ValueError):
    """The ConfigMap holds something the operator did not write: it is not trusted."""


@dataclass(frozen=True)
class LedgerCall:
    time: datetime  # when the call took its slot (or was sent, once it was)
    account: str | None  # the AtlassianAccount it was for; None when no record named it
    approved: bool  # made under an approval past the brake


def ledger_name(org_id: str) -> str:
    """A ConfigMap name for any orgId: the name is a digest, the orgId is in the data."""
    return LEDGER_PREFIX + hashlib.sha256(org_id.encode()).hexdigest()[:16]


def ledger_body(org_id: str, calls: Iterable[LedgerCall]) -> dict[str, object]:
    """The ConfigMap as the operator writes it (create, or a merge patch of the same body)."""
    rows = [
        [call.time.strftime("%Y-%m-%dT%H:%M:%SZ"), call.account or "", call.approved]
        for call in sorted(calls, key=lambda c: c.time)
    ]
    return {
        "metadata": {
            "name": ledger_name(org_id),
            "labels": {
                LEDGER_LABEL: "true",
                "app.kubernetes.io/managed-by": "atlassian-operator",
            },
            "annotations": {
                f"{GROUP}/about": (
                    "the lifecycle calls made in this Atlassian org in the last day, kept so "
                    "that the budget and the brake count them after the AtlassianOrg or the "
                    "AtlassianAccounts are deleted; deleting it lets the operator forget them"
                ),
            },
        },
        "data": {"orgId": org_id, "calls": json.dumps(rows, separators=(",", ":"))},
    }


def parse_ledger(data: Mapping[str, str] | None, org_id: str) -> list[LedgerCall]:
    """The calls a stored ledger holds; LedgerUnreadable when it is not one of `org_id`'s."""
    data = data or {}
    if data.get("orgId") != org_id:
        raise LedgerUnreadable(f"it is the ledger of orgId {data.get('orgId')!r}, not {org_id!r}")
    try:
        rows = json.loads(data.get("calls") or "[]")
    except ValueError as exc:
        raise LedgerUnreadable(f"data.calls is not JSON ({exc})") from None
    calls = []
    for row in rows if isinstance(rows, list) else [rows]:
        valid = isinstance(row, list) and len(row) == 3
        time = parse_time(row[0]) if valid and isinstance(row[0], str) else None
        if time is None or not isinstance(row[1], str) or not isinstance(row[2], bool):
            raise LedgerUnreadable(f"data.calls holds {row!r}, not [time, account, approved]")
        calls.append(LedgerCall(time, row[1] or None, row[2]))
    return calls


def ledger_problem(namespace: str, name: str, why: str) -> str:
    """What an unreadable or unwritable ledger means, and the fix, for the org's condition."""
    return (
        f"the ledger of lifecycle calls, ConfigMap {namespace}/{name}, {why}; until it can be "
        "read and written the operator makes no lifecycle call for this org, because a call it "
        "cannot record could be forgotten after a restart and exceed maxPerSync or pauseAbove"
    )
