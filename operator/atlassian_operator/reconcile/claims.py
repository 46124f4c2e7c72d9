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
from collections.abc import Awaitable, Callable, Mapping

from atlassian_operator.core.resources import AccountClaim

#: A namespace's accounts' claims by the org they name (`spec.orgRef.name`).
ClaimsByOrg = Mapping[str, list[AccountClaim]]


class SharedClaimsListing:
    """Coalesces concurrent `claims(namespace, org)` calls into LISTs made by `list_namespace`."""

    def __init__(self, list_namespace: Callable[[str], Awaitable[ClaimsByOrg]]) -> None:
        self._list_namespace = list_namespace
        self._next: dict[str, asyncio.Future[ClaimsByOrg]] = {}  # not started yet: joinable
        self._running: dict[str, asyncio.Task[None]] = {}

    async def claims(self, namespace: str, org: str) -> list[AccountClaim]:
        """What every account of `org` in `namespace` claims, from a LIST begun after this call.

        Raises what the LIST raised. Cancelling one caller leaves the LIST to the others.
        """
        answer = self._next.get(namespace)
        if answer is None:
            answer = self._next[namespace] = asyncio.get_running_loop().create_future()
            # A LIST nobody waits for any longer still ends; its error is not an orphan.
            answer.add_done_callback(lambda f: f.cancelled() or f.exception())
            if namespace not in self._running:
                self._start(namespace)
        by_org = await asyncio.shield(answer)
        return list(by_org.get(org, ()))

    def _start(self, namespace: str) -> None:
        self._running[namespace] = asyncio.ensure_future(self._list(namespace))

    async def _list(self, namespace: str) -> None:
        # Joinable until here: callers who asked before the LIST begins are answered by it.
        answer = self._next.pop(namespace)
        try:
            answer.set_result(await self._list_namespace(namespace))
        except asyncio.CancelledError:  # shutting down: its callers must not wait forever
            answer.cancel()
            raise
        except Exception as exc:
            answer.set_exception(exc)
        finally:
            del self._running[namespace]
            if namespace in self._next:  # asked for while this LIST ran
                self._start(namespace)
