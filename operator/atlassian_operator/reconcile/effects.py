"""The calls an org's owner starts: each runs as a task and reports back with one message.

None of them reads or changes the owner's state: what they need comes in as arguments, what
they learn goes out through `post`. Every failure becomes a message too, so that nothing the
owner waits for can be lost to an exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from atlassian_operator.atlassian import (
    AtlassianClient,
    AtlassianError,
    LifecyclePermission,
)
from atlassian_operator.core.decisions import Action
from atlassian_operator.core.directory import DirectorySearch
from atlassian_operator.core.ledger import LedgerCall, ledger_name, ledger_problem
from atlassian_operator.core.resources import ObjectRef, OrgSpec
from atlassian_operator.logfields import about
from atlassian_operator.reconcile.kube import KubeApi, KubeError, SecretProblem
from atlassian_operator.reconcile.messages import (
    KeyRead,
    LedgerStored,
    LifecycleDone,
    Listed,
    ListingCount,
    Message,
    StatusStored,
)

logger = logging.getLogger(__name__)

Post = Callable[[Message], None]


class InternalFailure(AtlassianError):
    """An unexpected exception during a call, carried back as a failed call."""


class SearchAbandoned(AtlassianError):
    """The v2 user search took too much longer than the v1 listing it goes with."""


class LedgerFailure(AtlassianError):
    """The org's call ledger (core/ledger.py) could not be read: nothing is acted on."""


SEARCH_GRACE_SECONDS = 30.0


@dataclass
class Listing:
    """One listing under way: which, since when, and which sync request it answers."""

    epoch: int
    started: float
    answers: str | None
    count: ListingCount = field(default_factory=ListingCount)


class ListingObserver:
    """What the client reports of the listing under way (set by `list_org` while it runs)."""

    listing: ListingCount | None = None


async def read_key(
    kube: KubeApi, namespace: str, spec: OrgSpec, generation: int, then_sync: bool, post: Post
) -> None:
    try:
        key = await kube.read_api_key(namespace, spec.secret_name, spec.secret_key)
    except SecretProblem as exc:
        post(KeyRead(generation, None, str(exc), then_sync))
    except Exception as exc:
        problem = f"reading Secret {spec.secret_name} failed ({type(exc).__name__})"
        post(KeyRead(generation, None, problem, then_sync))
    else:
        post(KeyRead(generation, key, None, then_sync))


async def list_org(
    client: AtlassianClient,
    kube: KubeApi,
    observer: ListingObserver,
    listing: Listing,
    org_id: str,
    org: ObjectRef,
    need_claims: bool,
    enrich: bool,
    post: Post,
) -> None:
    """The org's users, what the v2 search adds (`enrich`), and (first time, or for discovery)
    what every account claims.

    The v1 listing and the search run side by side; a failed search is reported with the
    listing and never fails it.
    """
    observer.listing = count = listing.count
    loop = asyncio.get_running_loop()
    started = loop.time()
    search = asyncio.ensure_future(_search(client, org_id, org)) if enrich else None
    try:
        users = await client.list_org_users(org_id)
        claims, ledger = None, None
        if need_claims:
            claims = await kube.account_claims(org.namespace, org.name)
            ledger = await _read_ledger(kube, org.namespace, org_id)
        directory, directory_error = None, None
        if search is not None:
            # A slow search must not hold the listing's statuses back for long: it gets as long
            # again as the listing took (at least SEARCH_GRACE_SECONDS), then is abandoned.
            grace = max(SEARCH_GRACE_SECONDS, loop.time() - started)
            try:
                directory, directory_error = await asyncio.wait_for(search, grace)
            except TimeoutError:
                directory_error = SearchAbandoned(
                    f"the v2 user search had not finished {grace:.0f}s after the v1 listing "
                    "did; it was abandoned for this sync"
                )
    except Exception as exc:
        post(Listed(listing.epoch, None, _as_error(exc, org, about(org)), None, count))
    else:
        post(Listed(listing.epoch, users, None, claims, count, directory, directory_error, ledger))
    finally:
        observer.listing = None
        if search is not None:
            search.cancel()  # a no-op once it is done


async def _read_ledger(kube: KubeApi, namespace: str, org_id: str) -> list[LedgerCall] | None:
    try:
        return await kube.read_ledger(namespace, org_id)
    except KubeError as exc:
        raise LedgerFailure(
            ledger_problem(namespace, ledger_name(org_id), f"cannot be read ({exc})")
        ) from None


async def write_ledger(
    kube: KubeApi, namespace: str, number: int, body: Mapping[str, Any], post: Post
) -> None:
    try:
        await kube.write_ledger(namespace, body)
    except KubeError as exc:
        name = str(body["metadata"]["name"])
        post(LedgerStored(number, ledger_problem(namespace, name, f"cannot be written ({exc})")))
    except Exception as exc:
        post(LedgerStored(number, f"writing the call ledger failed: {type(exc).__name__}"))
    else:
        post(LedgerStored(number, None))


async def _search(
    client: AtlassianClient, org_id: str, org: ObjectRef
) -> tuple[DirectorySearch | None, AtlassianError | None]:
    """Every user's facts, page by page, then the unmanaged users with their activity."""
    found = DirectorySearch()
    try:
        async for page in client.search_directory_pages(org_id):
            found.add(page)
        found.add((await client.search_directory_users(org_id, unmanaged_only=True)).users)
    except Exception as exc:
        return None, _as_error(exc, org_id, about(org))
    return found, None


def _as_error(exc: Exception, what: object, fields: dict[str, str]) -> AtlassianError:
    if isinstance(exc, AtlassianError):
        return exc
    logger.error("Listing %s failed unexpectedly", what, exc_info=exc, extra=fields)
    return InternalFailure(f"listing failed: {type(exc).__name__}: {exc}")


async def lifecycle(
    client: AtlassianClient,
    action: Action,
    account_id: str,
    suspension_message: str | None,
    ask_first: bool,
    done: Callable[[AtlassianError | None, LifecyclePermission | None], LifecycleDone],
    post: Post,
    fields: Mapping[str, str] | None = None,
) -> None:
    """One disable or enable call; `done` turns its outcome into the owner's message.

    `ask_first`: ask the user management API whether the call is allowed, and make it only
    when it is; the answer goes back with the outcome so that the owner keeps it. `fields`:
    what a log line of it is about (`logfields.about`).
    """
    error: AtlassianError | None = None
    permission: LifecyclePermission | None = None
    try:
        if ask_first:
            permission = await client.lifecycle_permission(account_id)
            if not permission.allowed:
                post(done(None, permission))
                return
        if action.terms.call == "disable":
            await client.disable(account_id, suspension_message)
        else:
            await client.enable(account_id)
    except AtlassianError as exc:
        error = exc
    except Exception as exc:
        logger.exception("%s of %s failed unexpectedly", action, account_id, extra=fields)
        error = InternalFailure(
            f"unexpected {type(exc).__name__} during the call; see the operator log"
        )
    post(done(error, permission))


async def patch_status(
    kube: KubeApi, key: str, ref: ObjectRef, patch: Mapping[str, Any], post: Post
) -> None:
    try:
        body = await kube.patch_status(ref, patch)
    except KubeError as exc:
        post(StatusStored(key, None, exc.status or -1, str(exc)))
    except Exception as exc:
        post(StatusStored(key, None, -1, f"{type(exc).__name__}: {exc}"))
    else:
        post(StatusStored(key, body, 0))


async def post_event(kube: KubeApi, ref: ObjectRef, kind: str, reason: str, message: str) -> None:
    await kube.post_event(ref, kind, reason, message)


# Discovered accounts created at once. One at a time, each waits for the previous one's round
# trip (65 creates a second measured: 13 minutes for 50,000); the Kubernetes client's pool of 8
# serves the status writes too.
CREATE_CONCURRENCY = 4


async def create_accounts(
    kube: KubeApi, org: ObjectRef, bodies: Iterable[Mapping[str, Any]]
) -> None:
    """Create the accounts, a few at a time; `bodies` may be built as they are taken (a list of
    50,000 bodies made up front weighs 60 MB). The first failure stops the rest."""
    created = 0
    remaining = iter(bodies)

    async def creator() -> None:
        nonlocal created
        for body in remaining:  # shared: each creator takes the next body
            created += await kube.create_account(org.namespace, body)

    creators = [asyncio.ensure_future(creator()) for _ in range(CREATE_CONCURRENCY)]
    try:
        await asyncio.gather(*creators)
    finally:
        for task in creators:
            task.cancel()
    logger.info("Discovered %d accounts in %s", created, org, extra=about(org))


async def close_later(client: AtlassianClient, delay: float) -> None:
    """Close a replaced client once the calls that still use it have had time to finish."""
    await asyncio.sleep(delay)
    await client.aclose()
