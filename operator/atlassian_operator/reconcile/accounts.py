"""The AtlassianAccounts of one org as its owner knows them: per-object state, who is about whom.

Owned by one OrgOwner, used only from its loop. Everything kept about an account goes when the
account is deleted, moves to another org, or comes back as a new object (a new UID).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from atlassian_operator.atlassian import User
from atlassian_operator.core.decisions import Action, Blocked
from atlassian_operator.core.plan import Rival
from atlassian_operator.core.resources import AccountResource, AccountSpec, InvalidSpec
from atlassian_operator.core.status import ActionResult, suspended_by_policy


@dataclass(frozen=True, slots=True)
class Rendered:
    """The last status rendered for an account and exactly what it was rendered from."""

    user: User | None
    previous: Mapping[str, Any]
    spec: AccountSpec | InvalidSpec
    inputs: tuple[Any, ...]
    status: dict[str, Any]


@dataclass(slots=True)
class Intent:
    """A lifecycle call decided for an account: recorded in its status (`pendingAction`) and in
    the org's call ledger before the request is sent, so that neither a drain nor a SIGKILL,
    nor deleting the objects afterwards, loses the call's record or the budget slot it took."""

    action: Action
    account_id: str
    record: dict[str, Any]  # the status.pendingAction written before the call
    spent_at: float  # when it took its slot of the budget
    requested_by: str | None
    policy: str | None  # why the inactivity policy asked for it, when it did
    message: str | None  # the suspension message Atlassian shows
    ask_first: bool
    listed_at: float
    approval: dict[str, Any] | None = None  # the approval past the brake it goes under
    ledger_write: int = 0  # the number of the ledger write that holds it (LedgerWrites)
    sent: bool = False


@dataclass(slots=True)
class AccountState:
    """What the owner keeps about one AtlassianAccount object (one UID)."""

    resource: AccountResource
    resolved: str | None = None  # the Atlassian account it is about, for precedence
    desires: bool = False  # it states a desired state
    attempts: int = 0  # failed lifecycle attempts in a row, for the backoff
    retry_at: float | None = None
    failed: tuple[int, str, Blocked] | None = None  # (generation, org config, why) of a failure
    result: ActionResult | None = None  # a call's outcome not yet rendered into status
    announced: str | None = None  # the Ready=False reason last posted as an Event
    warned_not_durable: bool = False  # the ExemptionNotDurable Event was posted for this UID
    readiness: tuple[str, str] | None = None  # (Ready status, reason) as last decided
    inactivity: frozenset[str] = frozenset()  # what it counts as under the inactivity policy
    rendered: Rendered | None = None  # to skip re-rendering what cannot have changed
    intent: Intent | None = None  # a call being recorded, or sent and not yet answered
    answered: dict[str, Any] | None = None  # the last pendingAction this process settled

    @property
    def name(self) -> str:
        return self.resource.ref.name


#: The counts of status.inactivity, each a kind `inactivity_kinds` gives.
INACTIVITY_COUNTS = (
    "eligible", "eligibleBillable", "suspended", "warned", "refused", "refusedBillable",
    "keptByIntent",
)  # fmt: skip


def inactivity_kinds(status: Mapping[str, Any]) -> frozenset[str]:
    """What an account's status counts as under the inactivity policy: eligible only when the
    operator would actually suspend it; warned while in the warning period (not eligible
    yet); refused when the policy takes it up (past warnAfterDays, else suspendAfterDays) but
    the operator would refuse (identity provider, admin, unmanaged, protected); keptByIntent
    when its own desiredState: Active keeps it; suspended when the policy suspended it."""
    kinds = set()
    if status.get("inactivityEligible"):
        kinds.add("eligible")
        if status.get("billable"):
            kinds.add("eligibleBillable")
    elif status.get("inactivityWarnedAt"):
        kinds.add("warned")  # in the warning period, not eligible yet
    if status.get("inactivityRefused"):
        kinds.add("refused")
        if status.get("billable"):
            kinds.add("refusedBillable")
    if status.get("keptByIntent"):
        kinds.add("keptByIntent")
    if suspended_by_policy(status):
        kinds.add("suspended")
    return frozenset(kinds)


class AccountBook:
    """Accounts by name, who is about which Atlassian account, and when each retries."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountState] = {}
        self._claims: dict[str, set[str]] = {}  # Atlassian account ID -> account names
        self._retries: list[tuple[float, str]] = []  # (when, name), stale entries skipped
        self.readiness: Counter[tuple[str, str]] = Counter()  # (Ready, reason) -> accounts
        self.readiness_changed = False
        self.inactivity: Counter[str] = Counter()  # the kinds of `inactivity_kinds`
        self.inactivity_changed = False

    def __len__(self) -> int:
        return len(self._accounts)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._accounts))

    def get(self, name: str) -> AccountState | None:
        return self._accounts.get(name)

    def add(self, state: AccountState) -> None:
        self._accounts[state.name] = state

    def states(self) -> Iterator[AccountState]:
        return iter(self._accounts.values())

    def set_readiness(self, state: AccountState, readiness: tuple[str, str] | None) -> None:
        """Count the account under its Ready condition, for the per-org gauge."""
        if readiness == state.readiness:
            return
        if state.readiness is not None:
            self.readiness[state.readiness] -= 1
        if readiness is not None:
            self.readiness[readiness] += 1
        state.readiness, self.readiness_changed = readiness, True

    def set_inactivity(self, state: AccountState, kinds: frozenset[str]) -> None:
        """Count the account under the inactivity policy, for the org's status and metrics."""
        if kinds == state.inactivity:
            return
        self.inactivity.subtract(state.inactivity)
        self.inactivity.update(kinds)
        state.inactivity, self.inactivity_changed = kinds, True

    def forget(self, name: str) -> set[str]:
        """Drop the account; returns the names that were about the same Atlassian account."""
        state = self._accounts.pop(name, None)
        if state is not None:
            self.set_readiness(state, None)
            self.set_inactivity(state, frozenset())
        if state is None or not state.resolved:
            return set()
        rivals = self._claims.get(state.resolved, set())
        rivals.discard(name)
        if not rivals:
            self._claims.pop(state.resolved, None)
        return set(rivals)

    def claim(self, state: AccountState, account_id: str | None) -> set[str]:
        """Record whom the account is about now; returns the names whose rivals changed."""
        spec = state.resource.spec
        desires = isinstance(spec, AccountSpec) and spec.desired_state is not None
        if account_id == state.resolved and desires == state.desires:
            return set()
        touched: set[str] = set()
        if account_id != state.resolved:
            # Retries and remembered failures were about the person it named before.
            state.attempts, state.retry_at, state.failed = 0, None, None
        if state.resolved:
            old = self._claims.get(state.resolved, set())
            old.discard(state.name)
            touched |= old
            if not old:
                self._claims.pop(state.resolved, None)
        if account_id:
            new = self._claims.setdefault(account_id, set())
            touched |= new
            new.add(state.name)
        state.resolved, state.desires = account_id, desires
        return touched

    def about(self, account_id: str) -> list[str]:
        """The accounts about one Atlassian account, by name."""
        return sorted(self._claims.get(account_id, ()))

    def rivals(self, name: str, account_id: str | None) -> list[Rival]:
        return [
            Rival(other, self._accounts[other].desires)
            for other in self._claims.get(account_id or "", ())
            if other != name
        ]

    def retry_at(self, state: AccountState, at: float) -> None:
        state.retry_at = at
        heapq.heappush(self._retries, (at, state.name))

    def next_retry(self) -> float | None:
        return self._retries[0][0] if self._retries else None

    def due(self, now: float) -> list[str]:
        """Accounts whose retry time has come (each once)."""
        names = []
        while self._retries and self._retries[0][0] <= now:
            at, name = heapq.heappop(self._retries)
            state = self._accounts.get(name)
            if state is not None and state.retry_at == at:
                state.retry_at = None
                names.append(name)
        return names
