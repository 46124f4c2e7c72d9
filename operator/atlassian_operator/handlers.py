"""The kopf wiring: watch events in, the Fleet routes them to each org's owner. No decisions.

Both kinds are watched with `on.event`, not change handlers: the operator keeps no per-object
state in annotations and puts no finalizer on anything, so deleting an AtlassianOrg or an
AtlassianAccount is never blocked and never changes anything in Atlassian. The handlers only
enqueue; they never await Atlassian, so one org's slow calls cannot hold kopf's workers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf

from atlassian_operator.atlassian import AtlassianClient, ClientObserver
from atlassian_operator.core.authority import allowed_base_urls
from atlassian_operator.core.resources import ACCOUNT_PLURAL, GROUP, ORG_PLURAL, VERSION
from atlassian_operator.reconcile.fleet import Fleet
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.metrics import Metrics


def new_client(
    api_key: str, base_url: str, observer: ClientObserver, timeout: float = 30.0
) -> AtlassianClient:
    return AtlassianClient(api_key, base_url=base_url, observer=observer, timeout=timeout)


class NoDiffBase(kopf.AnnotationsDiffBaseStorage):
    """Only on.event handlers here: kopf need not deep-copy every body to diff it."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()


def event_memories() -> Any:
    """kopf's per-object memory, never kept; None (kopf's own) if this kopf lacks the class.

    kopf remembers, per object, state for daemons, timers, indexes, change handlers and error
    throttling: about 1 KB per object for as long as it exists, 50 MB at 50,000 accounts. Only
    on.event handlers here, which use none of it, so each event gets a fresh memory, as kopf
    gives admission webhooks. `ResourceMemories` has no public name (kopf 1.45); if a kopf
    release moves it, the operator still runs, with kopf's memory.
    """
    try:
        from kopf._core.reactor.inventory import ResourceMemories
    except ImportError:
        logging.getLogger(__name__).warning("This kopf has no ResourceMemories: ~1 KB per object")
        return None

    class EventMemories(ResourceMemories):
        async def recall(self, raw_body: Any, **kwargs: Any) -> Any:
            return await super().recall(raw_body, **{**kwargs, "ephemeral": True})

    return EventMemories()


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Our own bookkeeping names, in case kopf ever writes any (on.event handlers do not).
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase(
        prefix=GROUP, key="last-handled-configuration"
    )
    # At start-up kopf lists and queues every account; unbounded, it would hold a worker and
    # a copy of every body at the same time (the peak RSS at 10,000 accounts).
    settings.queueing.worker_limit = 64
    # A worker holds its slot until it has idled this long after its object's last event, so
    # the 64 slots serve at most 64 / idle_timeout objects a second: 128 at kopf's 0.5 s, the
    # ceiling of a first sync that creates and writes 50,000 accounts. The handlers only
    # enqueue, so a worker has nothing to wait for: let it go at once.
    settings.queueing.idle_timeout = 0.02
    # We post our own, specific Events; kopf would turn log lines into Events as well.
    settings.posting.enabled = False
    # Quiet watch streams are reconnected well before proxies and load balancers drop them.
    settings.watching.server_timeout = 300
    # The initial LIST of pre-existing accounts (every start, every relist) in pages, not as
    # one response parsed at once; measured, one org of 20,000 accounts: peak RSS at start
    # 280 -> 268 MiB.
    settings.watching.chunk_size = 500
    # Watching named namespaces only: no cluster-wide CRD or namespace scanning, so a
    # single-namespace install needs no cluster-wide permission at all (kopf runs only while
    # the CRDs are served: supervisor.py reads the API server's discovery, open to anyone).
    settings.scanning.disabled = bool(memo.get("namespaced"))
    timeout = float(memo.get("atlassian_timeout") or 30.0)
    memo.fleet = Fleet(
        KubeApi(),
        memo.get("metrics") or Metrics(),
        functools.partial(new_client, timeout=timeout),
        allowed_base_urls(memo.get("allowed_base_urls") or ()),
    )
    if (health := memo.get("health")) is not None:
        # The liveness probe fails when an org's loop died or stalled (Kubernetes restarts
        # us), or when this loop cannot answer.
        health.watch(asyncio.get_running_loop(), memo.fleet.problems)


# On SIGTERM, suspensions already sent to Atlassian get this long to be answered, so that a
# replacement operator never sends one of them again: longer than the default request timeout
# (30 s), so every call on the wire ends, and within the Pod's 45 s grace period.
DRAIN_SECONDS = 35.0


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    if (health := memo.get("health")) is not None:
        health.watch(None, None)  # stopping is not a failure
    if (flag := memo.get("stop_flag")) is not None:
        # Stopped by a signal, kopf leaves the task waiting for its stop flag pending, and then
        # waits 5 s for that "hung" task before it exits: raise the flag, the wait ends at once.
        flag.set()
    await memo.fleet.close(drain=DRAIN_SECONDS)


@kopf.on.event(GROUP, VERSION, ORG_PLURAL)
async def org_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    memo.fleet.org_event(type, body)


@kopf.on.event(GROUP, VERSION, ACCOUNT_PLURAL)
async def account_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    memo.fleet.account_event(type, body)


logging.getLogger("kubernetes.client.rest").setLevel(logging.WARNING)
