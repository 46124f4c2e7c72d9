"""Orgs of one namespace that need their accounts' claims at once share one LIST, and no org is
answered from a LIST that began before it asked (it would miss accounts created since).

The LIST is a fake that blocks until the test releases it, so every interleaving is driven.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set

import pytest

from atlassian_operator.core.resources import AccountClaim
from atlassian_operator.reconcile.claims import ClaimsByOrg, SharedClaimsListing


class Namespace:
    """Accounts by org; each LIST answers what existed when it began, once released."""

    def __init__(self) -> None:
        self.accounts: dict[str, list[str]] = {"a": ["a1"], "b": ["b1"], "c": ["c1"]}
        self.lists: list[asyncio.Event] = []  # one per LIST begun; set() releases it
        self.failure: Exception | None = None
        self.asked: list[set[str]] = []  # the orgs each LIST was asked for
        self._begun = asyncio.Condition()

    async def list(self, namespace: str, orgs: Set[str]) -> ClaimsByOrg:
        assert namespace == "team"
        self.asked.append(set(orgs))
        seen = {org: list(ids) for org, ids in self.accounts.items() if org in orgs}
        failure, release = self.failure, asyncio.Event()
        async with self._begun:
            self.lists.append(release)
            self._begun.notify_all()
        await release.wait()
        if failure is not None:
            raise failure
        return {org: [AccountClaim(frozenset({i})) for i in ids] for org, ids in seen.items()}

    async def begun(self, count: int) -> None:
        async with self._begun:
            await self._begun.wait_for(lambda: len(self.lists) >= count)


def ids(claims: list[AccountClaim]) -> set[str]:
    return {name for claim in claims for name in claim.names}


async def test_orgs_asking_at_once_share_one_list() -> None:
    ns = Namespace()
    shared = SharedClaimsListing(ns.list)
    asks = [asyncio.ensure_future(shared.claims("team", org)) for org in "abc"]
    await ns.begun(1)
    ns.lists[0].set()
    answers = await asyncio.gather(*asks)
    assert [ids(a) for a in answers] == [{"a1"}, {"b1"}, {"c1"}]
    assert ns.asked == [{"a", "b", "c"}]  # one LIST, keeping the three orgs' claims


async def test_an_org_asking_during_a_list_gets_the_next_one_with_what_was_created_since() -> None:
    ns = Namespace()
    shared = SharedClaimsListing(ns.list)
    first = asyncio.ensure_future(shared.claims("team", "a"))
    await ns.begun(1)
    # While that LIST runs, discovery creates b2 and then two orgs ask.
    ns.accounts["b"].append("b2")
    later = [asyncio.ensure_future(shared.claims("team", org)) for org in "bc"]
    await asyncio.sleep(0)  # one turn of the loop, no timing: both calls run up to their wait
    assert len(ns.lists) == 1  # the next LIST waits for the running one to end
    ns.lists[0].set()
    assert ids(await first) == {"a1"}
    await ns.begun(2)
    ns.lists[1].set()
    b, c = await asyncio.gather(*later)
    assert ids(b) == {"b1", "b2"}
    assert ids(c) == {"c1"}
    assert ns.asked == [{"a"}, {"b", "c"}]


async def test_a_failed_list_fails_everyone_who_waited_and_the_next_ask_lists_again() -> None:
    ns = Namespace()
    shared = SharedClaimsListing(ns.list)
    ns.failure = RuntimeError("503 from the API server")
    asks = [asyncio.ensure_future(shared.claims("team", org)) for org in "ab"]
    await ns.begun(1)
    ns.lists[0].set()
    for ask in asks:
        with pytest.raises(RuntimeError, match="503"):
            await ask
    ns.failure = None
    again = asyncio.ensure_future(shared.claims("team", "a"))
    await ns.begun(2)
    ns.lists[1].set()
    assert ids(await again) == {"a1"}


async def test_a_cancelled_caller_leaves_the_list_to_the_others() -> None:
    ns = Namespace()
    shared = SharedClaimsListing(ns.list)
    leaving = asyncio.ensure_future(shared.claims("team", "a"))
    staying = asyncio.ensure_future(shared.claims("team", "b"))
    await ns.begun(1)
    leaving.cancel()
    await asyncio.wait([leaving])
    ns.lists[0].set()
    assert ids(await staying) == {"b1"}
    assert leaving.cancelled()
    assert len(ns.lists) == 1


async def test_an_org_without_accounts_gets_none() -> None:
    ns = Namespace()
    shared = SharedClaimsListing(ns.list)
    ask = asyncio.ensure_future(shared.claims("team", "new-org"))
    await ns.begun(1)
    ns.lists[0].set()
    assert await ask == []
