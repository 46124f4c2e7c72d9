"""Fixtures for tests that talk to the Atlassian simulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.simulator import Simulator, start_simulator


@pytest.fixture(scope="session")
def _shared_simulator() -> Iterator[Simulator]:
    # One process for the session: starting one costs a few hundred milliseconds.
    with start_simulator(users=250, seed=7, page_size=50) as simulator:
        yield simulator


@pytest.fixture
def simulator(_shared_simulator: Simulator) -> Simulator:
    """A simulator with 250 users (seed 7), pages of 50, every 25th user SCIM-synced, no rate
    limit, in its startup state: users, faults, request log and rate limit are reset."""
    _shared_simulator.reset()
    return _shared_simulator
