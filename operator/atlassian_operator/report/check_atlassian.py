"""What `check` asks Atlassian: a few reads, never a lifecycle call, then the verdicts.

Reads, in order: the first page of the v1 listing (the key, the org, the count of users); the
first page of the v2 search and the unmanaged-only search (bounded); the user management API's
permission check for one sample account. A sync's pages are estimated from the listing's
`meta.total`, not counted by reading them all; only a listing without a count is followed, and
no further than `LISTING_BOUND` pages.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from atlassian_operator.atlassian import (
    AtlassianClient,
    AtlassianError,
    DirectoryUser,
    LifecyclePermission,
    User,
)
from atlassian_operator.core.preflight import (
    Finding,
    ListingProbe,
    SearchProbe,
    choose_sample,
    judge_access,
    judge_lifecycle,
    judge_listing,
    judge_plan,
    judge_search,
)

#: Pages of a v1 listing without `meta.total` that the check follows before it estimates.
LISTING_BOUND = 10
#: Pages of the unmanaged-only search the check reads (500 users at the page size).
UNMANAGED_BOUND = 5
#: A check should answer within a minute, not wait out an outage like a sync does.
TIMEOUT_SECONDS = 15.0
MAX_ATTEMPTS = 3
MAX_WAIT_SECONDS = 20.0


@dataclass
class AtlassianReport:
    """The lines about Atlassian, and what the estimate of a sync needs."""

    findings: list[Finding] = field(default_factory=list)
    listing: ListingProbe | None = None
    search: SearchProbe | None = None


def new_client(api_key: str, base_url: str) -> AtlassianClient:
    """The check's client: short timeouts and few retries. ValueError: bad key or URL text."""
    return AtlassianClient(
        api_key,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        max_attempts=MAX_ATTEMPTS,
        max_wait=MAX_WAIT_SECONDS,
        backoff_cap=5.0,
    )


async def probe_atlassian(
    client: AtlassianClient, org_id: str, *, sample_account: str | None, enrichment: bool
) -> AtlassianReport:
    report = AtlassianReport()
    try:
        report.listing = await _read_listing(client, org_id)
    except AtlassianError as exc:
        report.findings += judge_access(exc, org_id, client.base_url)
        return report
    report.findings += judge_access(None, org_id, client.base_url)
    report.findings.append(judge_listing(report.listing))

    report.search = await _read_search(client, org_id)
    report.findings.append(judge_search(report.search, enrichment, report.listing.managed))

    directory = report.search.first_page
    users = report.listing.first_page
    sample: str | None
    if sample_account:
        sample, why = sample_account, "given with --sample-account"
    else:
        sample, why = choose_sample(users, directory)
    answer: LifecyclePermission | AtlassianError | None = None
    if sample is not None:
        try:
            answer = await client.lifecycle_permission(sample)
        except AtlassianError as exc:
            answer = exc
    report.findings.append(judge_lifecycle(sample, why, answer))
    report.findings += judge_plan(users, directory)
    return report


async def _read_listing(client: AtlassianClient, org_id: str) -> ListingProbe:
    first: list[User] = []
    total: int | None = None
    pages = users = 0
    complete = False
    listing = client.user_pages(org_id)
    try:
        async for page in listing:
            pages += 1
            users += len(page.data)
            if pages == 1:
                first, total = list(page.data), page.total
            complete = page.next is None
            # With a count, the first page says enough; without one, follow up to the bound.
            if complete or total is not None or pages >= LISTING_BOUND:
                break
    finally:
        await listing.aclose()
    return ListingProbe(first, total, pages, users, complete, LISTING_BOUND)


async def _read_search(client: AtlassianClient, org_id: str) -> SearchProbe:
    try:
        first = await _first(client.search_directory_pages(org_id))
    except AtlassianError as exc:
        return SearchProbe(None, exc)
    unmanaged = pages = 0
    complete = True
    search = client.search_directory_pages(org_id, unmanaged_only=True)
    try:
        async for page in search:
            pages += 1
            unmanaged += len(page)
            if pages >= UNMANAGED_BOUND:
                # Whether more follow is unknown without asking for them: say "at least".
                complete = False
                break
    except AtlassianError as exc:
        return SearchProbe(first, exc)
    finally:
        await search.aclose()
    return SearchProbe(first, None, unmanaged, complete, pages)


async def _first(pages: AsyncGenerator[list[DirectoryUser]]) -> list[DirectoryUser]:
    try:
        async for page in pages:
            return page
        return []
    finally:
        await pages.aclose()
