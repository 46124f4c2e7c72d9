"""The org owner against a model: random histories, safety invariants checked after every step.

Issue 25's proof. Examples ran out as a method (each review found new interleavings), so a
Hypothesis state machine drives the REAL `OrgOwner` with the in-memory Kubernetes and Atlassian
of owner_world.py through random histories over a small universe (four people, four accounts,
two email addresses that move), so that collisions happen: accounts and the org edited, deleted
and re-created; people leaving, moving addresses, going idle, becoming admins; calls that
succeed, fail, lose their outcome or hang; the clock moving; the operator restarting.

Every source of nondeterminism is a choice of the test (FoundationDB's simulation, Jepsen's
histories): the machine owns its event loop and its clock, and records the whole history,
every call with the world as it was when the call was SENT, every listing and search. The
invariants are properties of that history (pure functions below, one per invariant, each
called by one `@invariant` method). They are stated in the domain's words, and only as strong
as the owner can know: what Atlassian says reaches the owner by listings, so a fact about a
person is judged "as the world or one of the last two listings said it" (the owner acts from
its last listing while the next may already be under way), never from a change no listing has
shown yet.

`make test` runs it derandomized, and replays the seed histories (`SEEDS`: what `make fuzz`
found, and the shortest histories that reach a bug the random search reaches rarely) through
the same machine and the same invariants; `make fuzz` (ATLASSIAN_FUZZ_SECONDS) searches with
random seeds.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    INVARIANT_MARKER,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from owner_world import DEADLINE, ORG, World, until, user

from atlassian_operator.atlassian import (
    AtlassianError,
    AtlassianUnavailable,
    DirectoryUser,
    Forbidden,
    OutcomeUnknown,
    User,
)
from atlassian_operator.atlassian._responses import describe_response
from atlassian_operator.atlassian._scrub import scrub_key
from atlassian_operator.core.brake import APPROVE_ANNOTATION, DAY_SECONDS
from atlassian_operator.core.ledger import LedgerCall
from atlassian_operator.reconcile.messages import AccountGone

# ---- the universe: small, so that accounts, people and addresses collide ---------------------

PEOPLE = ("u1", "u2", "u3", "u4")
GUEST = "g5"  # unmanaged: only the v2 search shows them, and no lifecycle call applies
ANN, BO = "ann@acme.example", "bo@acme.example"  # the two addresses that move between people
SPEC_EMAILS = (ANN, "Ann@ACME.example", BO, "nobody@acme.example")
NAMES = ("offboard", "keep", "watch", "seat")
INTERVAL = 60.0  # World.org's syncInterval
ORG_ID = "org-1"  # World.org's orgId
LEDGER_DAY = timedelta(seconds=DAY_SECONDS)  # the ledger keeps max(syncInterval, a day)
EXEMPT = {"licence": "keep"}
ACTIVITY_DAYS = {"recent": 10, "medium": 60, "old": 200}  # else "absent" or "unreadable"
OUTCOMES = ("ok", "forbidden", "unavailable", "unknown-landed", "unknown-lost")
# A real-length org API key (about 190 characters), with the characters JSON and URLs escape.
KEY = "ATATT3xFfGF0" + "".join(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/="[(i * 7 + 3) % 65]
    for i in range(178)
)
FRAGMENT = 16  # no piece of the key this long may show anywhere


BASE = datetime(2026, 12, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the recorded history ---------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A person as one listing (or the world, for the current view) showed them."""

    status: str  # active | inactive
    email: str | None
    activity: str  # recent | medium | old | absent | unreadable
    last_active: datetime | None
    admin: bool = False
    idp: bool = False
    unmanaged: bool = False


@dataclass(frozen=True)
class View:
    """The people as the owner may have known them when it decided: the world now, or one of
    the last two listings (with the v2 search's facts carried as the owner carries them)."""

    at: datetime
    people: Mapping[str, Listed]


@dataclass(frozen=True)
class Account:
    name: str
    uid: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Org:
    """The AtlassianOrg's spec when a call was sent (None in `Sent.org`: no object)."""

    max_per_sync: int
    dry_run: bool
    allow_reactivation: bool
    allow_admins: bool
    protected: frozenset[str]
    inactivity_days: int | None
    enforce: bool
    pause_above: int | None = None
    #: The approve-suspensions annotation as set then: (its number, which setting of it: a
    #: new number, or the same after a removal, is a new approval), or None.
    approval: tuple[str, int] | None = None
    #: spec.inactivity.warnAfterDays: the policy warns this long before it may suspend.
    warn_after_days: int | None = None


@dataclass
class Sent:
    """One lifecycle call, with the world as it was when it was sent."""

    index: int
    action: str  # disable | enable
    person: str
    at: float  # the world's clock
    wall: datetime
    org: Org | None
    accounts: tuple[Account, ...]
    views: tuple[View, ...]
    in_flight: frozenset[int]  # calls to anybody not answered yet
    first_named: Mapping[str, datetime]
    outcome: str | None = None  # ok | forbidden | unavailable | unknown | cancelled
    answered_after: int = -1  # how many listings had been taken when it was answered
    #: When each person was first told of the policy's warning (an InactivityWarning Event on
    #: an account about them, or a warning restored with an account's status from a backup).
    warned_since: Mapping[str, datetime] = field(default_factory=dict)
    #: What the org's call ledger (core/ledger.py) held as the call was sent.
    ledger: tuple[LedgerCall, ...] = ()


@dataclass
class History:
    calls: list[Sent] = field(default_factory=list)
    listings: list[View] = field(default_factory=list)  # trusted listings only, in order


EFFECTIVE = ("ok", "unknown", "cancelled")  # the call may have changed the person


# ---- what the history says, in the domain's words ---------------------------------------------


def names(account: Account, person: str, view: View) -> bool:
    """The account's current spec names the person: its accountId; else the person its status
    pin resolved from this very spec; else the person whose email (case-insensitively) it is."""
    spec, status = account.spec, account.status
    if spec.get("accountId"):
        return bool(spec["accountId"] == person)
    email = str(spec.get("email") or "").lower()
    if status.get("accountId") and status.get("pinnedFrom") == {"email": email}:
        return bool(status["accountId"] == person)
    listed = view.people.get(person)
    return listed is not None and (listed.email or "").lower() == email


def exempt(account: Account) -> bool:
    return all(account.labels.get(k) == v for k, v in EXEMPT.items())


def asks_for(account: Account, action: str, org: Org) -> bool:
    """The account wants this call: its desiredState (an enable only where the org allows
    re-activation), or, observe-only and not exempt, the inactivity policy in Enforce mode."""
    desired = account.spec.get("desiredState")
    if action == "enable":
        return desired == "Active" and org.allow_reactivation
    return desired == "Suspended" or (desired is None and org.enforce and not exempt(account))


def stating_intent(call: Sent, view: View) -> list[Account]:
    return [a for a in call.accounts if a.spec.get("desiredState") and names(a, call.person, view)]


def untouchable(call: Sent, view: View) -> str | None:
    """Why the person may never be disabled, as this view shows them."""
    assert call.org is not None
    listed = view.people.get(call.person)
    emails = {(listed.email or "").lower()} if listed else set()
    if call.person in call.org.protected or emails & call.org.protected:
        return "protected"
    if listed is not None and listed.admin and not call.org.allow_admins:
        return "an org admin"
    if listed is not None and listed.idp:
        return "managed by an identity provider"
    if listed is not None and listed.unmanaged:
        return "unmanaged"
    return None


def idle_long_enough(call: Sent, view: View) -> bool:
    """The inactivity policy's evidence: active, and a readable last activity older than
    suspendAfterDays, or none at all and first observed longer ago than that."""
    assert call.org is not None and call.org.inactivity_days is not None
    listed = view.people.get(call.person)
    if listed is None or listed.status != "active" or listed.activity == "unreadable":
        return False
    threshold = timedelta(days=call.org.inactivity_days)
    if listed.last_active is not None:
        return view.at - listed.last_active >= threshold
    first = call.first_named.get(call.person)
    return first is not None and view.at - first >= threshold


def acts_only_for_the_current_spec(call: Sent) -> str | None:
    if call.org is None:
        return "no AtlassianOrg exists"
    if call.org.dry_run:
        return "the org is in dry run"
    for view in call.views:
        if any(names(a, call.person, view) and asks_for(a, call.action, call.org)
               for a in call.accounts):  # fmt: skip
            return None
    return "no account's current spec names this person and asks for it"


def never_untouchable(call: Sent) -> str | None:
    if call.action != "disable" or call.org is None:
        return None
    why = [untouchable(call, view) for view in call.views]
    return None if None in why else f"the person is {why[0]}"


def inactivity_only_when_idle(call: Sent) -> str | None:
    if call.action != "disable" or call.org is None or call.org.inactivity_days is None:
        return None
    if any(any(a.spec.get("desiredState") == "Suspended" for a in stating_intent(call, v))
           for v in call.views):  # fmt: skip
        return None  # an explicit offboarding, not the policy's
    if any(idle_long_enough(call, view) for view in call.views):
        return None
    return (
        "an inactivity suspension of someone not idle for "
        f"{call.org.inactivity_days} days (or observed for less, or unreadable)"
    )


def warned_before_suspended(call: Sent) -> str | None:
    """With warnAfterDays, an inactivity suspension only of someone warned at least
    suspendAfterDays - warnAfterDays days before."""
    org = call.org
    if call.action != "disable" or org is None or org.inactivity_days is None:
        return None
    if org.warn_after_days is None:
        return None
    if any(any(a.spec.get("desiredState") == "Suspended" for a in stating_intent(call, v))
           for v in call.views):  # fmt: skip
        return None  # an explicit offboarding, not the policy's
    period = timedelta(days=org.inactivity_days - org.warn_after_days)
    since = call.warned_since.get(call.person)
    if since is not None and call.wall - since >= period:
        return None
    shown = "never warned" if since is None else f"warned only since {stamp(since)}"
    return f"an inactivity suspension without a warning period of {period.days} days ({shown})"


def two_intents_never_act(call: Sent) -> str | None:
    counts = [len(stating_intent(call, view)) for view in call.views]
    if min(counts) >= 2:
        both = ", ".join(a.name for a in stating_intent(call, call.views[0]))
        return f"accounts {both} both state a desiredState for this person"
    return None


def one_call_per_transition(history: History, call: Sent) -> str | None:
    """Never a second call for a person while one is in flight; never the same call again
    after one that may have worked, until a listing taken after its answer shows the person
    back in the state the call changes."""
    earlier = [c for c in history.calls[: call.index] if c.person == call.person]
    for other in earlier:
        if other.index in call.in_flight:
            return f"call {other.index} ({other.action}) to the same person is still in flight"
    if not earlier:
        return None
    last = earlier[-1]
    if last.action != call.action or last.outcome not in EFFECTIVE:
        return None
    undone = "active" if call.action == "disable" else "inactive"
    for listing in history.listings[last.answered_after :]:
        shown = listing.people.get(call.person)
        if shown is not None and shown.status == undone:
            return None
    return (
        f"call {last.index} made the same {call.action} ({last.outcome}) and no listing "
        f"since showed the person {undone}"
    )


def over_budget(history: History, call: Sent) -> str | None:
    """At most maxPerSync lifecycle calls (disables and enables) in any syncInterval."""
    if call.org is None:
        return None
    window = [c for c in history.calls[: call.index + 1] if call.at - INTERVAL < c.at <= call.at]
    if len(window) > call.org.max_per_sync:
        made = ", ".join(f"{c.action} {c.person} at {c.at:.0f}s" for c in window)
        limit = call.org.max_per_sync
        return f"{len(window)} calls within {INTERVAL:.0f}s, maxPerSync {limit}: {made}"
    return None


def not_in_the_ledger(history: History, call: Sent) -> str | None:
    """The org's call ledger, which no object's deletion takes, holds every call of the last day
    before it is sent: as many as were made, this one included. (Its times are whole seconds,
    taken when the call took its slot: a second of slack at the day's edge.)"""
    day = [c for c in history.calls[: call.index + 1] if c.wall > call.wall - LEDGER_DAY]
    kept = [e for e in call.ledger if e.time > call.wall - LEDGER_DAY - timedelta(seconds=1)]
    if len(kept) < len(day):
        return f"the ledger held {len(kept)} calls of the last day, {len(day)} were made"
    return None


def unrecorded(call: Sent, stored: Mapping[str, Account]) -> str | None:
    """Every call is recorded before it is sent (an account's status.pendingAction names the
    person), and after it in that same account's status (pendingAction, or a lastAction since),
    whatever happened in between; unless that account was deleted."""
    makers = [
        a for a in call.accounts
        if (a.status.get("pendingAction") or {}).get("accountId") == call.person
    ]  # fmt: skip
    if not makers:
        return "no account's status recorded it before it was sent"
    alive = [stored[a.name] for a in makers if a.name in stored and stored[a.name].uid == a.uid]
    if not alive:
        return None  # the account that made it was deleted, and its record with it
    since = stamp(call.wall)
    for account in alive:
        last = account.status.get("lastAction") or {}
        if str(last.get("time") or "") >= since:
            return None
        if account.status.get("pendingAction"):
            return None
    return f"no status of {', '.join(a.name for a in alive)} records it"


def approval_of_call(call: Sent) -> str | None:
    """The number of the approval a call went out under, as its record before it was sent
    says."""
    for account in call.accounts:
        pending = account.status.get("pendingAction") or {}
        if pending.get("accountId") == call.person and pending.get("approval"):
            return str(pending["approval"]["count"])
    return None


def makers(call: Sent) -> frozenset[str]:
    """The AtlassianAccounts whose record of the call it is (the brake counts accounts)."""
    return frozenset(
        a.name for a in call.accounts
        if (a.status.get("pendingAction") or {}).get("accountId") == call.person
    )  # fmt: skip


def past_the_brake(history: History, call: Sent) -> str | None:
    """Calls for more than pauseAbove accounts a day never go without a person's approval;
    an approval lets out calls for at most as many accounts as it says, and only while it is
    set on the AtlassianOrg."""
    if call.org is None:
        return None
    approval, set_ = approval_of_call(call), call.org.approval
    if approval is not None:
        if set_ is None or approval != set_[0]:
            return f"went under approval {approval} while the org's annotation was {set_}"
        under = {
            n for c in history.calls[: call.index + 1]
            if approval_of_call(c) is not None and c.org is not None and c.org.approval == set_
            for n in makers(c)
        }  # fmt: skip
        if len(under) > int(approval):
            return f"approval {set_} let out calls for {sorted(under)}"
        return None
    if call.org.pause_above is None:
        return None  # the default threshold (at least 10) is more accounts than the model has
    day = {
        n for c in history.calls[: call.index + 1]
        if call.at - DAY_SECONDS < c.at <= call.at and approval_of_call(c) is None
        for n in makers(c)
    }  # fmt: skip
    if len(day) > call.org.pause_above:
        limit = call.org.pause_above
        return f"calls without approval for {sorted(day)} within a day, pauseAbove {limit}"
    return None


def key_pieces(key: str, size: int) -> set[str]:
    return {key[i : i + size] for i in range(len(key) - size + 1)}


FRAGMENTS, HALVES = key_pieces(KEY, FRAGMENT), key_pieces(KEY, FRAGMENT // 2)


def shows_key(text: str) -> bool:
    """Whether the text holds a FRAGMENT-long piece of the key: any such piece contains a
    half-length piece starting at a multiple of the half, so only around those is it looked for.
    """
    half = FRAGMENT // 2
    for at in range(0, len(text) - half + 1, half):
        if text[at : at + half] in HALVES and any(
            text[i : i + FRAGMENT] in FRAGMENTS for i in range(max(0, at - half), at + 1)
        ):
            return True
    return False


class WallClock:
    """The operator's wall clock (status times, the listing's time the inactivity policy
    measures from, the budget rebuilt after a restart) moved by the world's clock, so that a
    tick of 400 s is 400 s for both, and a history replays the same."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.patched: list[Any] = []

    def __call__(self) -> datetime:
        return BASE + timedelta(seconds=self.world.now)

    def install(self) -> None:
        clock = self

        class Controlled(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                return clock()

        for name, module in list(sys.modules.items()):
            if name.startswith("atlassian_operator.reconcile") and (
                getattr(module, "datetime", None) is datetime
            ):
                module.datetime = Controlled  # type: ignore[attr-defined]
                self.patched.append(module)

    def remove(self) -> None:
        for module in self.patched:
            module.datetime = datetime


# ---- the machine ------------------------------------------------------------------------------


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Person:
    status: str = "active"
    activity: str = "recent"
    last_active: datetime | None = None
    role: str = "plain"  # plain | admin | idp
    present: bool = True


class OwnerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.log = Captured()
        self.logger = logging.getLogger("atlassian_operator")
        self.level = self.logger.level
        self.logger.addHandler(self.log)
        self.logger.setLevel(logging.DEBUG)
        self.world = World()
        self.wall = WallClock(self.world)
        self.wall.install()
        self.history = History()
        self.first_named: dict[str, datetime] = {}
        self.warned_since: dict[str, datetime] = {}  # see Sent.warned_since
        self.events_seen = 0
        self.people = {p: Person(last_active=self.ago(ACTIVITY_DAYS["recent"])) for p in PEOPLE}
        self.holder = {ANN: "u1", BO: "u2"}
        self.people["u3"].status = "inactive"  # a leaver, for re-enables to be asked for
        self.facts: dict[str, Listed] = {}  # carried facts of the v2 search, as the owner keeps
        self.fact_history: list[dict[str, Listed]] = []
        self.broken: set[str] = set()  # accounts whose stored status was broken by hand
        self.outcome = "ok"
        self.answering: str | None = None  # the outcome kind of the call being answered
        self.org_spec: dict[str, Any] = {
            "suspension": {"maxPerSync": 2, "allowReactivation": True},
            "inactivity": None,
        }
        self.org_uid, self.org_generation, self.uids = "org-uid-1", 1, 1
        self.approval: tuple[str, int] | None = None  # the org's approve-suspensions annotation
        self.approvals = 0
        self.listings_before_step = 0
        self.logs_checked = 0
        self.world.kube.secret = KEY
        fake = self.world.atlassian
        fake.on_call = self._sent
        fake.on_answer = self._answered
        fake.on_listing = self._listed
        fake.on_search = self._searched
        fake.fail_calls = self._fail
        fake.unmanaged.append(
            DirectoryUser(
                account_id=GUEST, account_status="active", claim_status="unmanaged",
                management_source="invited", membership_status="active",
                email="guest@partner.example", name="Gus Guest",
            )
        )  # fmt: skip
        for person in PEOPLE:
            self._publish(person)
        self.run(self._start())

    # ---- running the owner ---------------------------------------------------------------

    def ago(self, days: float) -> datetime:
        return self.wall() - timedelta(days=days)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _start(self) -> None:
        self.world.start()
        self.world.org(uid=self.org_uid, created=stamp(self.ago(1)), **self._org_body())
        await self._settle()

    async def _settle(self) -> None:
        """Until the owner has handled everything and every effect it started is done, or
        waits at the call gate (a held call), or is a replaced client's delayed close."""
        world = self.world

        def quiet() -> bool:
            owner = world.owner
            running = [
                t for t in owner._effects
                if not t.done() and getattr(t.get_coro(), "__name__", "") != "close_later"
            ]  # fmt: skip
            return (
                owner._queue.empty()
                and not len(owner._writes)
                and not owner._writes.in_flight
                and len(running) == world.atlassian.call_gate.waiting
            )

        # Quiet across a few turns of the loop, not just for one. The fakes answer within a
        # few turns and never wait on time, so the test yields turns instead of sleeping (a
        # millisecond per poll made the machine wait, not compute); the deadline is a guard.
        loop = asyncio.get_running_loop()
        deadline, calm = loop.time() + DEADLINE, 0
        while calm < 3:
            calm = calm + 1 if quiet() else 0
            if loop.time() > deadline:
                raise AssertionError(f"the owner did not go quiet within {DEADLINE}s")
            await asyncio.sleep(0)

    def step(self) -> None:
        self._note_named()
        self.run(self._settle())
        self._note_named()
        self._note_warnings()

    def _note_warnings(self) -> None:
        """Who was warned, when: each InactivityWarning Event posted in this step, on an
        account about the person (the world's clock does not move within a step)."""
        kube, now = self.world.kube, self.wall()
        accounts = self._accounts(copied=False)
        for name, _, reason in kube.events[self.events_seen :]:
            account = accounts.get(name)
            person = (account.status.get("accountId") if account else None) or None
            if reason == "InactivityWarning" and person:
                self.warned_since.setdefault(str(person), now)
        self.events_seen = len(kube.events)

    def teardown(self) -> None:
        try:
            self.world.atlassian.call_gate.open()
            self.run(self.world.stop())
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.run(asyncio.sleep(0))
            self.run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()
            self.wall.remove()
            self.logger.removeHandler(self.log)
            self.logger.setLevel(self.level)

    # ---- the fakes' history hooks --------------------------------------------------------

    def _view_now(self) -> View:
        """The world as it is: each person's role too, whether or not a search shows it."""
        fake = self.world.atlassian
        listed = {u.account_id: self._listed_person(u) for u in fake.users.values()}
        for u in fake.directory_users(everyone=True):
            if u.account_id in listed or u.claim_status == "unmanaged":
                base = listed.get(u.account_id) or Listed(u.account_status, u.email, "absent", None)
                listed[u.account_id] = self._with_facts(base, u)
        return View(self.wall(), listed)

    def _listed_person(self, u: User) -> Listed:
        person = self.people.get(u.account_id) or Person()
        return Listed(u.account_status, u.email, person.activity, person.last_active)

    @staticmethod
    def _with_facts(base: Listed, u: DirectoryUser) -> Listed:
        return Listed(
            base.status, base.email, base.activity, base.last_active,
            admin="atlassian/org-admin" in u.platform_roles,
            idp=u.management_source == "synced",
            unmanaged=u.claim_status == "unmanaged",
        )  # fmt: skip

    def _views(self) -> tuple[View, ...]:
        views = [self._view_now()]
        listings = self.history.listings
        for back in (1, 2):
            if len(listings) >= back:
                listing = listings[-back]
                facts = self.fact_history[-back] if len(self.fact_history) >= back else {}
                # The search adds how a person is managed; activity and status stay the
                # listing's (the search's own copy of a person has no activity).
                people = {
                    p: replace(listed, admin=f.admin, idp=f.idp, unmanaged=f.unmanaged)
                    if (f := facts.get(p)) is not None else listed
                    for p, listed in listing.people.items()
                }  # fmt: skip
                people.update({p: f for p, f in facts.items() if p not in people})
                views.append(View(listing.at, people))
        return tuple(views)

    def _accounts(self, *, copied: bool = True) -> dict[str, Account]:
        keep = copy.deepcopy if copied else (lambda value: value)
        return {
            name: Account(
                name,
                body["metadata"]["uid"],
                keep(body["spec"]),
                keep(body.get("status") or {}),
                dict(body["metadata"].get("labels") or {}),
            )
            for (kind, name), body in self.world.kube.objects.items()
            if kind == "AtlassianAccount"
        }

    def _org(self) -> Org | None:
        if ("AtlassianOrg", ORG) not in self.world.kube.objects:
            return None
        suspension = self.org_spec["suspension"]
        inactivity = self.org_spec.get("inactivity") or {}
        return Org(
            max_per_sync=int(suspension.get("maxPerSync", 10)),
            dry_run=bool(suspension.get("dryRun")),
            allow_reactivation=bool(suspension.get("allowReactivation")),
            allow_admins=bool(suspension.get("allowAdmins")),
            protected=frozenset(str(p).lower() for p in suspension.get("protectedAccounts", ())),
            inactivity_days=inactivity.get("suspendAfterDays"),
            enforce=inactivity.get("mode") == "Enforce",
            pause_above=suspension.get("pauseAbove"),
            approval=self.approval,
            warn_after_days=inactivity.get("warnAfterDays"),
        )

    def _sent(self, action: str, person: str) -> None:
        calls = self.history.calls
        calls.append(
            Sent(
                index=len(calls), action=action, person=person, at=self.world.now,
                wall=self.wall(), org=self._org(),
                accounts=tuple(self._accounts().values()), views=self._views(),
                in_flight=frozenset(c.index for c in calls if c.outcome is None),
                first_named=dict(self.first_named), warned_since=dict(self.warned_since),
                ledger=tuple(self.world.kube.ledger(ORG_ID)),
            )
        )  # fmt: skip

    def _answered(self, action: str, person: str, outcome: str) -> None:
        call = next(
            c for c in self.history.calls
            if c.outcome is None and (c.action, c.person) == (action, person)
        )  # fmt: skip
        if outcome == "failed":
            outcome = "unknown" if (self.answering or "").startswith("unknown") else "failed"
        call.outcome, call.answered_after = outcome, len(self.history.listings)

    def _listed(self, users: list[User], total: int | None) -> None:
        if total is not None and total != len(users):
            return  # the owner acts on nothing from a listing that contradicts itself
        people = {u.account_id: self._listed_person(u) for u in users}
        self.history.listings.append(View(self.wall(), people))

    def _searched(self, users: list[DirectoryUser]) -> None:
        """What the owner keeps of a search: each returned user's facts; for users of the org
        it did not return, what an earlier search said that protects them."""
        returned = {}
        for u in users:
            base = Listed(u.account_status, u.email, "absent", None)
            returned[u.account_id] = self._with_facts(base, u)
        listed = self.history.listings[-1].people if self.history.listings else {}
        carried = {
            p: f for p, f in self.facts.items()
            if p not in returned and p in listed and (f.admin or f.idp or f.unmanaged)
        }  # fmt: skip
        self.facts = {**carried, **returned}
        self.fact_history.append(dict(self.facts))

    def _fail(self, action: str, person: str) -> AtlassianError | None:
        self.answering = kind = self.outcome
        if kind == "ok":
            return None
        if kind == "forbidden":
            return Forbidden("Atlassian refused the call (403 forbidden)", key="forbidden")
        # A misbehaving proxy echoes the Authorization header: what the client makes of it.
        body = f"<html>upstream error; request had Authorization: Bearer {KEY}</html>"
        detail = describe_response(
            503, {"content-type": "text/html"}, body.encode(), scrub=lambda t: scrub_key(t, KEY)
        )
        if kind == "unavailable":
            return AtlassianUnavailable(scrub_key(f"Atlassian is unavailable: {detail}", KEY))
        if kind == "unknown-landed":
            self.world.atlassian.land(action, person)
        return OutcomeUnknown(scrub_key(f"no answer to the {action}: {detail}", KEY), status=503)

    def _note_named(self) -> None:
        """When each person was first named by an account (the inactivity policy's clock for
        someone never active starts no earlier)."""
        view, now = self._view_now(), self.wall()
        for account in self._accounts(copied=False).values():
            for person in (*PEOPLE, GUEST):
                if names(account, person, view):
                    self.first_named.setdefault(person, now)

    # ---- Atlassian as the rules change it --------------------------------------------------

    def _email(self, person: str) -> str:
        held = [e for e, p in self.holder.items() if p == person]
        return held[0] if held else f"{person}@acme.example"

    def _publish(self, person: str) -> None:
        state, fake = self.people[person], self.world.atlassian
        if not state.present:
            fake.users.pop(person, None)
            return
        made = user(person, state.status, self._email(person), last_active=state.last_active)
        if state.activity == "unreadable":
            made = User.model_validate({**made.model_dump(), "last_active": "yesterday 09:14"})
        fake.users[person] = made
        fake.directory[person] = {
            "admin": {"platform_roles": ("atlassian/org-admin",)},
            "idp": {"management_source": "synced"},
            "plain": {},
        }[state.role]

    def _org_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"suspension": dict(self.org_spec["suspension"])}
        if self.org_spec.get("inactivity"):
            body["inactivity"] = {**self.org_spec["inactivity"],
                                  "exemptSelector": {"matchLabels": EXEMPT}}  # fmt: skip
        return body

    def _org_changed(self) -> None:
        if ("AtlassianOrg", ORG) in self.world.kube.objects:
            self.org_generation += 1
            self.world.org(uid=self.org_uid, generation=self.org_generation, **self._org_body())

    # ---- rules: the AtlassianAccounts --------------------------------------------------------

    @rule(
        name=st.sampled_from(NAMES),
        by_id=st.sampled_from((*PEOPLE, GUEST)) | st.none(),
        email=st.sampled_from(SPEC_EMAILS),
        desired=st.sampled_from((None, "Active", "Suspended")),
        exempt_label=st.booleans(),
    )
    def put_account(
        self, name: str, by_id: str | None, email: str, desired: str | None, exempt_label: bool
    ) -> None:
        """An account created or edited: whom it names, its desiredState, an exempt label."""
        spec: dict[str, Any] = {"accountId": by_id} if by_id else {"email": email}
        if desired:
            spec["desiredState"] = desired
        self.world.account(name, labels=dict(EXEMPT) if exempt_label else {}, **spec)
        self.step()

    @rule(
        name=st.sampled_from(NAMES),
        person=st.sampled_from(PEOPLE),
        observed_days=st.sampled_from((10, 200)),
        broken=st.booleans(),
        warned_days=st.sampled_from((None, 1, 60)),
    )
    def restore_account(
        self,
        name: str,
        person: str,
        observed_days: int,
        broken: bool,
        warned_days: int | None = None,
    ) -> None:
        """An observe-only account restored from a backup, with the status it had: watched for
        a while, maybe warned by the inactivity policy some days ago, maybe with a
        productAccess entry that lacks its product."""
        self._delete(name)
        watched_since = self.ago(observed_days)
        status: dict[str, Any] = {"accountId": person, "firstObserved": stamp(watched_since)}
        if warned_days is not None:
            # The person was told then (the backup says so): the model takes that as given.
            warned = self.ago(warned_days)
            status["inactivityWarnedAt"] = stamp(warned)
            self.warned_since[person] = min(self.warned_since.get(person, warned), warned)
        if broken:
            status["productAccess"] = [{"key": "confluence", "name": "Confluence"}]
            self.broken.add(name)
        self.first_named[person] = min(self.first_named.get(person, self.wall()), watched_since)
        self.uids += 1
        self.world.account(name, uid=f"restored-{self.uids}", stored_status=status,
                           accountId=person)  # fmt: skip
        self.step()

    @precondition(lambda self: self._stored_names())
    @rule(data=st.data())
    def break_status(self, data: st.DataObject) -> None:
        """Someone edits an account's status by hand: a productAccess item without product."""
        name = data.draw(st.sampled_from(self._stored_names()))
        body = self.world.kube.objects[("AtlassianAccount", name)]
        status = dict(body.get("status") or {})
        status["productAccess"] = [{"key": "jira-software", "name": "Jira", "status": "Active"}]
        body["status"] = status
        body["metadata"]["resourceVersion"] = str(next(self.world.kube._versions))
        self.broken.add(name)
        self.world.echo(name)
        self.step()

    @precondition(lambda self: self._stored_names())
    @rule(data=st.data())
    def delete_account(self, data: st.DataObject) -> None:
        self._delete(data.draw(st.sampled_from(self._stored_names())))
        self.step()

    @precondition(lambda self: self._stored_names())
    @rule(data=st.data())
    def echo(self, data: st.DataObject) -> None:
        """The watch delivers an account as stored (e.g. after the owner's own write)."""
        self.world.echo(data.draw(st.sampled_from(self._stored_names())))
        self.step()

    def _stored_names(self) -> list[str]:
        return sorted(n for k, n in self.world.kube.objects if k == "AtlassianAccount")

    def _delete(self, name: str) -> None:
        body = self.world.kube.objects.pop(("AtlassianAccount", name), None)
        if body is not None:
            self.world.owner.post(AccountGone(name, body["metadata"]["uid"]))
        self.broken.discard(name)

    # ---- rules: the AtlassianOrg -----------------------------------------------------------

    @rule(max_per_sync=st.integers(1, 3))
    def budget(self, max_per_sync: int) -> None:
        self.org_spec["suspension"]["maxPerSync"] = max_per_sync
        self._org_changed()
        self.step()

    @rule(dry_run=st.booleans(), reactivation=st.booleans(), admins=st.booleans())
    def switches(self, dry_run: bool, reactivation: bool, admins: bool) -> None:
        """dryRun, allowReactivation, allowAdmins."""
        self.org_spec["suspension"].update(
            dryRun=dry_run, allowReactivation=reactivation, allowAdmins=admins
        )
        self._org_changed()
        self.step()

    @rule(entries=st.sets(st.sampled_from(("u1", "u3", ANN, BO.upper())), max_size=2))
    def protect(self, entries: set[str]) -> None:
        self.org_spec["suspension"]["protectedAccounts"] = sorted(entries)
        self._org_changed()
        self.step()

    @rule(days=st.sampled_from((None, 30, 90)), enforce=st.booleans(), warn=st.booleans())
    def inactivity(self, days: int | None, enforce: bool, warn: bool = False) -> None:
        """The org's policy; with `warn`, a warning 20 days before the policy may act."""
        self.org_spec["inactivity"] = (
            None if days is None
            else {"suspendAfterDays": days, "mode": "Enforce" if enforce else "Report"}
        )  # fmt: skip
        if days is not None and warn:
            self.org_spec["inactivity"]["warnAfterDays"] = days - 20
        self._org_changed()
        self.step()

    @rule(pause_above=st.sampled_from((None, 0, 1, 2)))
    def brake(self, pause_above: int | None) -> None:
        self.org_spec["suspension"]["pauseAbove"] = pause_above
        if pause_above is None:
            del self.org_spec["suspension"]["pauseAbove"]
        self._org_changed()
        self.step()

    @precondition(lambda self: ("AtlassianOrg", ORG) in self.world.kube.objects)
    @rule(count=st.integers(1, 4) | st.none())
    def approve(self, count: int | None) -> None:
        """A person sets (or removes) the approve-suspensions annotation on the org."""
        self.approvals += 1
        at = stamp(self.wall() + timedelta(seconds=self.approvals))
        value = None if count is None else str(count)
        if value is None:
            self.approval = None
        elif self.approval is None or self.approval[0] != value:
            self.approval = (value, self.approvals)  # a new approval
        self.world.annotate_org(APPROVE_ANNOTATION, value, at=at)
        self.step()

    @precondition(lambda self: ("AtlassianOrg", ORG) in self.world.kube.objects)
    @rule()
    def delete_org(self) -> None:
        self.world.delete_org()
        self.approval = None
        self.step()

    @rule()
    def recreate_org(self) -> None:
        """Deleted (if it exists) and created again with the same orgId: a new object, as a
        Flux prune-and-create or an Argo CD Replace does."""
        if ("AtlassianOrg", ORG) in self.world.kube.objects:
            self.world.delete_org()
        self.approval = None  # an annotation goes with its object
        self.uids += 1
        self.org_uid, self.org_generation = f"org-uid-{self.uids}", 1
        self.world.org(uid=self.org_uid, created=stamp(self.wall()), **self._org_body())
        self.step()

    # ---- rules: Atlassian ------------------------------------------------------------------

    @rule(person=st.sampled_from(PEOPLE), active=st.booleans())
    def admin_sets_status(self, person: str, active: bool) -> None:
        """An admin suspends or restores someone in admin.atlassian.com."""
        self.people[person].status = "active" if active else "inactive"
        self._publish(person)
        self.step()

    @rule(email=st.sampled_from((ANN, BO)), person=st.sampled_from(PEOPLE))
    def email_moves(self, email: str, person: str) -> None:
        before = self.holder.get(email)
        self.holder = {e: p for e, p in self.holder.items() if p != person}
        self.holder[email] = person
        for affected in {before, person} - {None}:
            self._publish(str(affected))
        self.step()

    @rule(person=st.sampled_from(PEOPLE), present=st.booleans())
    def leaves_or_returns(self, person: str, present: bool) -> None:
        self.people[person].present = present
        self._publish(person)
        self.step()

    @rule(person=st.sampled_from(PEOPLE),
          activity=st.sampled_from((*ACTIVITY_DAYS, "absent", "unreadable")))  # fmt: skip
    def last_active(self, person: str, activity: str) -> None:
        state = self.people[person]
        state.activity = activity
        state.last_active = self.ago(ACTIVITY_DAYS[activity]) if activity in ACTIVITY_DAYS else None
        self._publish(person)
        self.step()

    @rule(person=st.sampled_from(PEOPLE), role=st.sampled_from(("plain", "admin", "idp")),
          omitted=st.booleans())  # fmt: skip
    def directory_says(self, person: str, role: str, omitted: bool) -> None:
        """What the v2 search says of someone, and whether a search leaves them out."""
        self.people[person].role = role
        fake = self.world.atlassian
        fake.search_omits = (fake.search_omits | {person}) if omitted else (
            fake.search_omits - {person}
        )  # fmt: skip
        self._publish(person)
        self.step()

    @rule(contradicts=st.booleans())
    def listing_contradicts_itself(self, contradicts: bool) -> None:
        self.world.atlassian.reported_total = 99 if contradicts else None
        self.step()

    @rule(outcome=st.sampled_from(OUTCOMES))
    def next_calls(self, outcome: str) -> None:
        """How the next lifecycle calls end; an unknown outcome may or may not have landed."""
        self.outcome = outcome
        self.step()

    @rule(held=st.booleans())
    def calls_hang(self, held: bool) -> None:
        gate = self.world.atlassian.call_gate
        if held:
            gate.close()
        else:
            gate.open()
        self.step()

    @rule(status=st.sampled_from((0, 0, 403, 500)))
    def ledger_refused(self, status: int) -> None:
        """The org's call ledger can or cannot be read and written (RBAC without the ConfigMap
        grant, an API server that fails): while it cannot, nothing may be called."""
        self.world.kube.refuse_ledger = status
        self.step()

    @rule(seconds=st.integers(1, 400))
    def tick(self, seconds: int) -> None:
        self.world.tick(seconds)
        self.step()

    @rule(
        drain=st.booleans(),
        answered_in_drain=st.booleans(),
        lands=st.booleans(),
    )
    def restart(self, drain: bool, answered_in_drain: bool, lands: bool) -> None:
        """The operator stops (SIGTERM; a drain or none) and a new process starts; held calls
        are answered during the drain, or cancelled (and may land all the same)."""
        fake = self.world.atlassian
        fake.lands_when_cancelled = lands
        old = self.world.owner

        async def stopping() -> None:
            if drain and answered_in_drain:
                stop = asyncio.ensure_future(old.stop(drain=DEADLINE))
                await until(lambda: old._draining, "the drain begins")
                fake.call_gate.open()
                await stop
            else:
                await old.stop(drain=0.01 if drain else 0.0)
            fake.lands_when_cancelled = False
            self.world.restart()
            # What earlier searches said is in the old process's memory only (a known limit,
            # docs/concepts/safety.md): the new one knows what its own searches say.
            self.facts = {}

        self.run(stopping())
        self.step()

    # ---- invariants: the list, each stated once above as a pure function -------------------

    def _problems(self, check: Any) -> list[str]:
        return [
            f"call {c.index} ({c.action} {c.person} at {c.at:.0f}s): {why}"
            for c in self.history.calls
            if (why := check(c))
        ]

    @invariant()
    def an_action_goes_only_to_whom_a_current_spec_names(self) -> None:
        """An action goes only to the account ID resolved from an account's current spec,
        one that asks for that action, in an org that is not in dry run."""
        problems = self._problems(acts_only_for_the_current_spec)
        assert not problems, problems

    @invariant()
    def at_most_one_call_per_person_per_transition(self) -> None:
        """None while another call for the person is in flight; never the same call again after
        one that may have worked until a listing shows the person changed back."""
        problems = self._problems(lambda c: one_call_per_transition(self.history, c))
        assert not problems, problems

    @invariant()
    def never_a_disable_of_the_untouchable(self) -> None:
        """Never a disable of a protected account, an org admin (without allowAdmins), an
        account an identity provider manages, or an unmanaged account."""
        problems = self._problems(never_untouchable)
        assert not problems, problems

    @invariant()
    def inactivity_suspends_only_the_long_idle(self) -> None:
        """Never an inactivity suspension of someone whose last activity is unreadable or more
        recent than suspendAfterDays, or who was never active and observed for less."""
        problems = self._problems(inactivity_only_when_idle)
        assert not problems, problems

    @invariant()
    def never_a_policy_suspension_without_a_warning_period(self) -> None:
        """With warnAfterDays, never an inactivity suspension of someone not warned (Event, or
        a warning restored from a backup) suspendAfterDays - warnAfterDays days before."""
        problems = self._problems(warned_before_suspended)
        assert not problems, problems

    @invariant()
    def two_intents_for_one_person_never_act(self) -> None:
        """Two accounts stating a desiredState for one person: no call for that person."""
        problems = self._problems(two_intents_never_act)
        assert not problems, problems

    @invariant()
    def the_budget_holds_per_org_id(self) -> None:
        """At most maxPerSync lifecycle calls (disable and enable) in any syncInterval for the
        orgId, across restarts and re-creations of the AtlassianOrg."""
        problems = self._problems(lambda c: over_budget(self.history, c))
        assert not problems, problems

    @invariant()
    def every_call_is_in_the_ledger_before_it_is_sent(self) -> None:
        """What outlives the objects counts every call: deleting the AtlassianOrg and the
        accounts, and restarting, never gives back a slot of the budget or the brake's day."""
        problems = self._problems(lambda c: not_in_the_ledger(self.history, c))
        assert not problems, problems

    @invariant()
    def the_brake_holds(self) -> None:
        """No more than pauseAbove accounts a day get calls without approval; an approval is
        used for no more accounts than it names, and only while it is set."""
        problems = self._problems(lambda c: past_the_brake(self.history, c))
        assert not problems, problems

    @invariant()
    def every_call_is_recorded_in_status(self) -> None:
        """Every call made shows in its account's status (lastAction, or a pending record)
        once the owner is quiet, whatever happened after it, unless the account was deleted."""
        stored = self._accounts()
        problems = self._problems(lambda c: unrecorded(c, stored))
        assert not problems, problems

    @invariant()
    def one_accounts_bad_data_stops_no_other(self) -> None:
        """After a sync, every account but those whose status was broken by hand has a status
        for its current generation (none waits on another account's bad data). An account
        whose own call's outcome is still unknown (a listing that started no later than the
        call returned cannot show it) is held on purpose until the next listing, soon after."""
        synced = len(self.history.listings) > self.listings_before_step
        self.listings_before_step = len(self.history.listings)
        fake = self.world.atlassian
        if not synced or self._org() is None or fake.call_gate.waiting:
            return
        unconfirmed = set(self.world.owner._unconfirmed)
        stale = [
            name for (kind, name), body in self.world.kube.objects.items()
            if kind == "AtlassianAccount" and name not in self.broken
            and (body.get("status") or {}).get("accountId") not in unconfirmed
            and (body.get("status") or {}).get("observedGeneration")
            != body["metadata"]["generation"]
        ]  # fmt: skip
        assert not stale, f"no status for the current generation of {stale}"

    @invariant()
    def the_api_key_never_shows(self) -> None:
        """No 16-character piece of the API key in any status, Event or log line."""
        texts: Iterable[str] = [
            *(json.dumps(b.get("status") or {}) for b in self.world.kube.objects.values()),
            *self.world.kube.event_messages,
            *self.log.lines[self.logs_checked :],
        ]
        self.logs_checked = len(self.log.lines)
        leaks = [t[:300] for t in texts if shows_key(t)]
        assert not leaks, leaks


# ---- running it ---------------------------------------------------------------------------------

FUZZ_SECONDS = float(os.environ.get("ATLASSIAN_FUZZ_SECONDS") or 0)

# About a minute on two cores (an example of 30 steps takes about 50 ms). One failure is shrunk
# and printed (shrinking takes minutes: several at once would outlast the timeout below).
DETERMINISTIC = settings(
    max_examples=2000,
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FUZZ = settings(
    DETERMINISTIC,
    max_examples=2000,  # per round; rounds repeat with fresh seeds until the time is up
    derandomize=False,
    report_multiple_bugs=True,
    database=DirectoryBasedExampleDatabase(
        str(Path.home() / ".cache" / "atlassian-operator" / "hypothesis")
    ),
)


class Drawn:
    """A rule's `data` argument in a seed history: the value the history names."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def draw(self, strategy: Any, label: Any = None) -> Any:
        return self.value


# Histories the machine replays in `make test`, each step followed by every invariant: what a
# `make fuzz` run found (shrunk by hand to the steps that matter), and short histories to bugs
# whose steps the 2,000 derandomized examples seldom line up. Steps: (rule, its arguments).
SEEDS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # make fuzz, 2026-12-06: the suspension's only record left was the deleted object's
    # status.budget, so after a re-creation and a restart the window was empty.
    "a re-created org keeps the window across a restart": [
        ("put_account", {"name": "offboard", "by_id": "u1", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("delete_account", {"data": Drawn("offboard")}),
        ("recreate_org", {}),
        ("restart", {"drain": False, "answered_in_drain": False, "lands": False}),
        ("budget", {"max_per_sync": 1}),
        ("put_account", {"name": "offboard", "by_id": None, "email": ANN,
                         "desired": "Active", "exempt_label": False}),
    ],
    # Issue 25, bug 1: an account that pinned u1 by email is edited to an address that
    # matches nobody, and to Suspended: it acts on nobody, not on u1.
    "a pin holds only for the spec it was resolved from": [
        ("put_account", {"name": "offboard", "by_id": None, "email": ANN, "desired": None,
                         "exempt_label": False}),
        ("put_account", {"name": "offboard", "by_id": None, "email": "nobody@acme.example",
                         "desired": "Suspended", "exempt_label": False}),
    ],
    # Issue 25, bug 4: two observe-only accounts for one idle person, both found eligible in
    # the pass that switches Enforce on: one call, not two.
    "two observe-only accounts for one idle person make one call": [
        ("put_account", {"name": "watch", "by_id": "u2", "email": ANN, "desired": None,
                         "exempt_label": False}),
        ("put_account", {"name": "seat", "by_id": "u2", "email": ANN, "desired": None,
                         "exempt_label": False}),
        ("last_active", {"person": "u2", "activity": "old"}),
        ("tick", {"seconds": 61}),  # the next listing shows it
        ("inactivity", {"days": 30, "enforce": True}),
    ],
    # Issue 25, bug 2: a last-active time in a layout the parser cannot read, of someone
    # watched for 200 days; unreadable is not "never active".
    "an unreadable last activity is not inactivity": [
        ("inactivity", {"days": 30, "enforce": True}),
        ("restore_account", {"name": "watch", "person": "u2", "observed_days": 200,
                             "broken": False}),
        ("last_active", {"person": "u2", "activity": "unreadable"}),
        ("tick", {"seconds": 61}),  # the next listing shows it
    ],
    # Issue 25, bug 3: an observe-only account watched u1 for 200 days is pointed at u2, who
    # has never been active; u2's inactivity clock starts now, not 200 days ago.
    "a new hire does not inherit the previous person's clock": [
        ("inactivity", {"days": 30, "enforce": True}),
        ("last_active", {"person": "u2", "activity": "absent"}),
        ("tick", {"seconds": 61}),  # the next listing shows it
        ("restore_account", {"name": "watch", "person": "u1", "observed_days": 200,
                             "broken": False}),
        ("put_account", {"name": "watch", "by_id": "u2", "email": ANN, "desired": None,
                         "exempt_label": False}),
    ],
    # Issue 26, item 2: with warnAfterDays, someone idle for 200 days is warned first, not
    # suspended at once (without the warning gate, the listing that shows them suspends them).
    "the policy warns before it suspends": [
        ("inactivity", {"days": 30, "enforce": True, "warn": True}),
        ("put_account", {"name": "watch", "by_id": "u2", "email": ANN, "desired": None,
                         "exempt_label": False}),
        ("last_active", {"person": "u2", "activity": "old"}),
        ("tick", {"seconds": 61}),  # the next listing shows it
    ],
    # ... and someone whose warning (restored with their account) began 60 days ago may go.
    "a warning restored from a backup counts": [
        ("inactivity", {"days": 30, "enforce": True, "warn": True}),
        ("last_active", {"person": "u2", "activity": "old"}),
        ("tick", {"seconds": 61}),
        ("restore_account", {"name": "watch", "person": "u2", "observed_days": 200,
                             "broken": False, "warned_days": 60}),
    ],
    # Issue 25, bug 8: a call hangs and its org is deleted meanwhile: the account's status
    # says OrgNotFound, and still records the call that is out.
    "the intent stays recorded while the call is unanswered": [
        ("calls_hang", {"held": True}),
        ("put_account", {"name": "offboard", "by_id": "u1", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("delete_org", {}),
    ],
    # Issue 25, bug 9: an error body that echoes the key, in a status message.
    "an echoed key never shows": [
        ("next_calls", {"outcome": "unavailable"}),
        ("put_account", {"name": "offboard", "by_id": "u1", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
    ],
    # Issue 25, bug 10, as the random search shrank it: a status broken by hand (a
    # productAccess item without its product) and a restart; the first listing still renders
    # the other account.
    "one account's bad data stops no other": [
        ("restore_account", {"name": "watch", "person": "u1", "observed_days": 10,
                             "broken": True}),
        ("recreate_org", {}),
        ("restore_account", {"name": "offboard", "person": "u1", "observed_days": 10,
                             "broken": False}),
        ("restart", {"drain": False, "answered_in_drain": False, "lands": False}),
    ],
    # Issue 25, bug 11: an admin whom one successful v2 search leaves out stays an admin.
    "an admin left out of a search keeps admin protection": [
        ("directory_says", {"person": "u1", "role": "admin", "omitted": False}),
        ("tick", {"seconds": 61}),
        ("directory_says", {"person": "u1", "role": "admin", "omitted": True}),
        ("tick", {"seconds": 61}),
        ("put_account", {"name": "offboard", "by_id": "u1", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
    ],
    # Found by the random search once the model's view was truthful: the org re-created
    # between a search that shows an admin and one that leaves him out.
    "a re-created org still knows an admin its first search leaves out": [
        ("directory_says", {"person": "u1", "role": "admin", "omitted": False}),
        ("recreate_org", {}),
        ("directory_says", {"person": "u1", "role": "admin", "omitted": True}),
        ("recreate_org", {}),
        ("put_account", {"name": "offboard", "by_id": None, "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
    ],
    # Issue 25, bug 13: two leavers set Active at once, with maxPerSync 1.
    "re-enables share the budget": [
        ("budget", {"max_per_sync": 1}),
        ("admin_sets_status", {"person": "u4", "active": False}),
        ("tick", {"seconds": 61}),  # the next listing shows it
        ("put_account", {"name": "keep", "by_id": "u3", "email": ANN, "desired": "Active",
                         "exempt_label": False}),
        ("put_account", {"name": "seat", "by_id": "u4", "email": ANN, "desired": "Active",
                         "exempt_label": False}),
    ],
    # Issue 26: with pauseAbove 1, a second offboarding the same day waits for an approval.
    "the brake holds a day past pauseAbove": [
        ("brake", {"pause_above": 1}),
        ("put_account", {"name": "offboard", "by_id": "u1", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("put_account", {"name": "keep", "by_id": "u2", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("tick", {"seconds": 120}),
    ],
    # Issue 26: an approval of two lets out two; the third offboarding waits for another.
    "an approval lets out no more than it names": [
        ("brake", {"pause_above": 0}),
        ("put_account", {"name": "offboard", "by_id": "u1", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("put_account", {"name": "keep", "by_id": "u2", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("approve", {"count": 2}),
        ("tick", {"seconds": 61}),
        ("put_account", {"name": "watch", "by_id": "u4", "email": ANN,
                         "desired": "Suspended", "exempt_label": False}),
        ("tick", {"seconds": 61}),
    ],
}  # fmt: skip


@pytest.mark.parametrize("history", SEEDS)
def test_the_seed_histories_keep_every_invariant(history: str) -> None:
    machine = OwnerModel()
    invariants = [
        getattr(machine, name)
        for name, member in vars(OwnerModel).items()
        if getattr(member, INVARIANT_MARKER, None) is not None
    ]
    try:
        for step, arguments in SEEDS[history]:
            getattr(machine, step)(**arguments)
            for check in invariants:
                check()
    finally:
        machine.teardown()


@pytest.mark.timeout(0 if FUZZ_SECONDS else 900)  # shrinking a failure may take minutes
def test_the_owner_keeps_every_invariant_over_random_histories() -> None:
    if not FUZZ_SECONDS:
        run_state_machine_as_test(OwnerModel, settings=DETERMINISTIC)
        return
    end = time.monotonic() + FUZZ_SECONDS
    while time.monotonic() < end:
        run_state_machine_as_test(OwnerModel, settings=FUZZ)
