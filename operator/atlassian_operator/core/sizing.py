"""What one org costs the operator per sync, from `make bench`'s measured model, in one place.

Every constant below comes from the reference run of `make bench` of 2026-12-03
(`bench/latest.md` and `bench/latest.json`; README "Performance" and "Sizing"), on 2 shared
vCPUs. `kubectl atlassian check` quotes these estimates before a first sync; when a new bench run
changes the numbers, change them here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from atlassian_operator.atlassian.v2_choices import SEARCH_PAGE_LIMIT

MIB = 1024 * 1024

#: The bench run the constants come from.
BENCH_RUN = "make bench of 2026-12-03 (bench/latest.md)"

#: Operator memory once syncs repeat: peak RSS 780.5 MiB for 50,000 accounts (20 orgs x 2,500,
#: hack/bench_orgs.py; one org of 50,000: 779 MiB), read as 100 MiB for the process plus
#: (780.5 - 100) MiB / 50,000 = 14,271 bytes per account: README "Sizing"'s "about 14 KB per
#: account plus 100 MiB".
BASE_MEMORY_BYTES = 100 * MIB
MEMORY_PER_ACCOUNT_BYTES = 14_271

#: Operator CPU of a quiet sync (nothing changed): 1.49 s for 10,000 accounts (hack/bench.py).
QUIET_SYNC_CPU_SECONDS_PER_ACCOUNT = 1.49 / 10_000

#: The shipped memory limit (manifests/base/deployment.yaml, the chart's default); an estimate
#: above `MEMORY_WARN_SHARE` of it deserves a larger limit or a shard.
DEFAULT_MEMORY_LIMIT_BYTES = 1344 * MIB
MEMORY_WARN_SHARE = 0.8


def pages(users: int, page_size: int) -> int:
    """Requests to read `users` at `page_size` a page: at least one (an empty org is one page)."""
    return max(1, -(-max(users, 0) // max(page_size, 1)))


@dataclass(frozen=True)
class SyncEstimate:
    """What one full sync of an org of this size costs, by the bench's model."""

    accounts: int
    v1_pages: int
    #: The full v2 search plus the small search of the unmanaged users (0 without enrichment).
    v2_pages: int
    memory_bytes: int
    quiet_sync_cpu_seconds: float

    @property
    def requests(self) -> int:
        return self.v1_pages + self.v2_pages

    @property
    def memory_mib(self) -> int:
        return round(self.memory_bytes / MIB)

    @property
    def memory_share(self) -> float:
        """The share of the shipped memory limit the estimate takes."""
        return self.memory_bytes / DEFAULT_MEMORY_LIMIT_BYTES


def estimate_sync(
    managed: int, v1_page_size: int, unmanaged: int = 0, *, enrichment: bool = True
) -> SyncEstimate:
    """The requests, memory and quiet-sync CPU of one org with `managed` users in the v1 listing
    (`v1_page_size` a page, as Atlassian served it) and `unmanaged` more that only v2 returns.

    Requests = v1 pages + (with enrichment) the v2 search of every user, managed or not, at
    `SEARCH_PAGE_LIMIT` a page, plus the unmanaged-only search: 10 + 11 at 1,000 users and
    100 + 101 at 10,000, as the bench counted. Memory counts every account the operator keeps:
    one AtlassianAccount per user with account discovery, which is the case to size for.
    """
    accounts = max(managed, 0) + max(unmanaged, 0)
    v2 = (
        pages(accounts, SEARCH_PAGE_LIMIT) + pages(unmanaged, SEARCH_PAGE_LIMIT)
        if enrichment
        else 0
    )
    return SyncEstimate(
        accounts=accounts,
        v1_pages=pages(managed, v1_page_size),
        v2_pages=v2,
        memory_bytes=BASE_MEMORY_BYTES + MEMORY_PER_ACCOUNT_BYTES * accounts,
        quiet_sync_cpu_seconds=QUIET_SYNC_CPU_SECONDS_PER_ACCOUNT * accounts,
    )
