"""How far a cursor-paged listing is followed: the bound, as pure functions."""

from __future__ import annotations

import pytest

from atlassian_operator.atlassian._paging import (
    MAX_EMPTY_RUN,
    PageTally,
    max_pages,
    overrun,
    search_max_pages,
)


@pytest.mark.parametrize(
    ("total", "page_size", "pages"),
    [
        (0, 0, 10),
        (0, 100, 10),
        (35, 0, 45),
        (35, 20, 12),
        (100, 100, 11),
        (101, 100, 12),
        (50_000, 100, 510),
        (-1, 100, 10),
    ],
    ids=["nothing", "nothing-page-100", "no-page-seen", "35-at-20", "exact", "one-over",
         "large-org", "negative-total"],
)  # fmt: skip
def test_max_pages_is_what_the_count_needs_plus_ten(total: int, page_size: int, pages: int) -> None:
    assert max_pages(total, page_size) == pages


def test_the_search_may_hold_as_many_again_as_v1_counts() -> None:
    assert search_max_pages(1_000, 100) == max_pages(2_000, 100) == 30


def tally(*sizes: int) -> PageTally:
    counted = PageTally()
    for size in sizes:
        counted.read(size)
    return counted


@pytest.mark.parametrize(
    ("sizes", "allowed", "problem"),
    [
        ((100, 100), 12, None),
        ((0,) * (MAX_EMPTY_RUN - 1), None, None),
        ((0,) * MAX_EMPTY_RUN, None, "the last 10 of 10 pages were empty"),
        ((5, *(0,) * MAX_EMPTY_RUN), 100, "the last 10 of 11 pages were empty"),
        ((0, 1) * MAX_EMPTY_RUN, None, None),
        ((20,) * 11, 12, None),
        ((20,) * 12, 12, "12 pages were followed (the largest held 20 users)"),
    ],
    ids=["within", "nine-empty", "ten-empty", "ten-empty-after-users", "empty-interleaved",
         "one-below-the-bound", "at-the-bound"],
)  # fmt: skip
def test_overrun(sizes: tuple[int, ...], allowed: int | None, problem: str | None) -> None:
    found = overrun(tally(*sizes), allowed)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
