"""Kubernetes-style conditions (Ready, Synced, Enriched), keeping their transition time."""

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
