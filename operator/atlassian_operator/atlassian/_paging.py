"""How far a cursor-paged listing is followed, so that one that never ends is abandoned.

A repeated cursor is caught where the pages are read; a server that hands out a fresh cursor on
every page is not, and would be followed for ever while the org's sync, and every status that
waits for it, stands still. Every listing is therefore held to a number of pages, decided here
and nowhere else: what its count of users allows, plus a margin, and a short run of empty pages.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_EMPTY_RUN", "PageTally", "max_pages", "overrun", "search_max_pages"]

#: Pages followed beyond those the count needs. Users added while the listing runs lengthen it
#: (the last page's `meta.total` counts them, earlier pages' do not) and a server may cut a page
#: short now and then; ten pages is more than either explains (1,000 users at a page of 100),
#: and ten requests is a small price for finding out that a listing will not end.
EXTRA_PAGES = 10

#: Empty pages in a row that still link to a next page. One is innocent: the users it would
#: have held left between two requests, or a filter (the unmanaged-only search) matched nobody
#: in that stretch. Ten in a row is more than that explains, and a listing of nothing but empty
#: pages with fresh cursors is the fault this module exists for.
MAX_EMPTY_RUN = 10


def max_pages(total: int, page_size: int) -> int:
    """The most pages a listing of `total` users may take at `page_size` users a page.

    ceil(total / page_size) + EXTRA_PAGES. The v1 listing does not document its page size, so
    `page_size` is the largest page seen so far (at least 1).
    """
    size = max(page_size, 1)
    return -(-max(total, 0) // size) + EXTRA_PAGES


def search_max_pages(listed_total: int, page_size: int) -> int:
    """The most pages the v2 search may take, held to the v1 listing's `meta.total`.

    The search has no count of its own, and returns the unmanaged users that v1 leaves out and
    does not count: it may hold as many again as v1 counts before it is taken to be endless.
    An org with more unmanaged users than that loses its enrichment (the lifecycle pre-check
    still guards every call), which is better than a search that never ends.
    """
    return max_pages(2 * max(listed_total, 0), page_size)


@dataclass
class PageTally:
    """What a listing has read so far: the pages, the run of empty ones, the largest page."""

    pages: int = 0
    empty_run: int = 0
    largest: int = 0

    def read(self, users: int) -> None:
        self.pages += 1
        self.empty_run = self.empty_run + 1 if users == 0 else 0
        self.largest = max(self.largest, users)


def overrun(tally: PageTally, allowed: int | None) -> str | None:
    """Why a listing whose last page links to another must not be followed, or None.

    `allowed`: the most pages its count permits (`max_pages`), None when nothing counts it.
    """
    if tally.empty_run >= MAX_EMPTY_RUN:
        return (
            f"the last {tally.empty_run} of {tally.pages} pages were empty, yet each linked "
            "to a next one"
        )
    if allowed is not None and tally.pages >= allowed:
        return (
            f"{tally.pages} pages were followed (the largest held {tally.largest} users), and the "
            f"last still links to a next one, where its count allows {allowed} pages"
        )
    return None
