"""One paged LIST of a namespace's accounts for every org that needs their claims at once.

An org's first sync (and each discovery sync) needs what every account of the org claims, from
a fresh LIST. Accounts are selected by `spec.orgRef.name`, which no server-side selector
reaches, so each org's LIST reads the whole namespace: twenty orgs starting together read it
twenty times (measured, 20 orgs x 1,000 users: 400,000 accounts parsed by the operator and
served by the API server for 20,000 accounts).

Requests that arrive while no LIST of their namespace is running start one; requests that
arrive while one runs wait for the next, which starts when it ends and serves them all. So
every answer comes from a LIST that began after its request (nothing created before the
request is missed), and a burst of N requests costs at most two LISTs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Set

from atlassian_operator.core.resources import AccountClaim

#: A namespace's accounts' claims by the org they name (`spec.orgRef.name`).
ClaimsByOrg = Mapping[str, list[AccountClaim]]


class SharedClaimsListing:
    """Coalesces concurrent `claims(namespace, org)` calls into LISTs made by `list_namespace`
    (which keeps the claims of the orgs it is given, those that asked, and drops the rest)."""

    def __init__(self, list_namespace: Callable[[str, Set[str]], Awaitable[ClaimsByOrg]]) -> None:
        self._list_namespace = list_namespace
        # The LIST of each namespace not begun yet, and who joined it.
        self._next: dict[str, tuple[asyncio.Future[ClaimsByOrg], set[str]]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    async def claims(self, namespace: str, org: str) -> list[AccountClaim]:
        """What every account of `org` in `namespace` claims, from a LIST begun after this call.

        Raises what the LIST raised. Cancelling one caller leaves the LIST to the others.
        """
        if namespace not in self._next:
            answer = asyncio.get_running_loop().create_future()
            # A LIST nobody waits for any longer still ends; its error is not an orphan.
            answer.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._next[namespace] = (answer, set())
            if namespace not in self._running:
                self._start(namespace)
        answer, orgs = self._next[namespace]
        orgs.add(org)
        by_org = await asyncio.shield(answer)
        return list(by_org.get(org, ()))

    def _start(self, namespace: str) -> None:
        self._running[namespace] = asyncio.ensure_future(self._list(namespace))

    async def _list(self, namespace: str) -> None:
        # Joinable until here: callers who asked before the LIST begins are answered by it.
        answer, orgs = self._next.pop(namespace)
        try:
            answer.set_result(await self._list_namespace(namespace, frozenset(orgs)))
        except asyncio.CancelledError:  # shutting down: its callers must not wait forever
            answer.cancel()
            raise
        except Exception as exc:
            answer.set_exception(exc)
        finally:
            del self._running[namespace]
            if namespace in self._next:  # asked for while this LIST ran
                self._start(namespace)
