"""The supervisor: kopf runs only while the CRDs are served, and a deletion never ends the
process (kopf is stood in for by a function that runs until it is told to stop)."""

from __future__ import annotations

import asyncio
import logging
import threading

import kopf
import pytest

from atlassian_operator import handlers
from atlassian_operator.health import Health
from atlassian_operator.supervisor import run_while_served

GONE = "the AtlassianOrg/AtlassianAccount CRDs are not installed (...): waiting for them"


class Cluster:
    """Discovery answers from a script: served or not, as the test flips it."""

    def __init__(self, served: bool = True) -> None:
        self.served = served

    def why_not(self) -> str | None:
        return None if self.served else GONE


def test_kopf_is_stopped_while_the_crds_are_gone_and_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster, health, stopping = Cluster(), Health(), threading.Event()
    runs: list[bool] = []
    seen_unready: list[tuple[bool, str]] = []

    def run(stop: threading.Event) -> None:
        runs.append(True)
        assert health.readiness() == (True, "ok")
        if len(runs) == 1:
            cluster.served = False  # deleted while kopf runs: the watcher stops kopf
            assert stop.wait(5), "kopf was not stopped"
            seen_unready.append(health.readiness())
            cluster.served = True  # back: the supervisor starts kopf again
            return
        # Second run: a clean stop (SIGTERM) ends the supervisor.

    with caplog.at_level(logging.INFO, logger="atlassian_operator"):
        run_while_served(run, cluster.why_not, health, stopping, poll=0.01)
    assert len(runs) == 2
    assert seen_unready == [(False, GONE)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["The" + GONE[3:]]
    assert "CRDs are installed: resuming" in caplog.text


def test_a_404_that_ends_kopf_before_the_discovery_sees_it_is_waited_out() -> None:
    cluster, health, stopping = Cluster(), Health(), threading.Event()
    runs: list[bool] = []

    def run(stop: threading.Event) -> None:
        runs.append(True)
        if len(runs) == 1:
            cluster.served = False
            threading.Timer(0.05, lambda: setattr(cluster, "served", True)).start()
            raise RuntimeError("404 page not found")  # kopf's watcher, first

    run_while_served(run, cluster.why_not, health, stopping, poll=0.01)
    assert len(runs) == 2


def test_an_error_while_the_crds_are_served_still_ends_the_process() -> None:
    def run(stop: threading.Event) -> None:
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        run_while_served(run, Cluster().why_not, Health(), threading.Event(), poll=0.01)


def test_crds_missing_at_start_wait_without_running_kopf_until_stopped() -> None:
    health, stopping = Health(), threading.Event()

    def run(stop: threading.Event) -> None:
        raise AssertionError("kopf must not run without its CRDs")

    threading.Timer(0.05, stopping.set).start()  # SIGTERM while waiting
    run_while_served(run, Cluster(served=False).why_not, health, stopping, poll=0.01)
    assert health.readiness() == (False, GONE)
    assert health.liveness() == (True, "ok")


async def test_the_cleanup_raises_kopfs_stop_flag_so_a_sigterm_does_not_wait_5_s_more() -> None:
    """kopf stopped by SIGTERM leaves the task that waits for its stop flag pending, then gives
    such "hung" tasks 5 s before it exits: every operator stop and Pod rollout took 6.1 s
    instead of 2.6 s (measured on this machine). The cleanup handler raises the flag."""

    class Fleet:
        async def close(self, drain: float) -> None:
            return None

    flag = asyncio.Event()
    await handlers.stop(memo=kopf.Memo(fleet=Fleet(), stop_flag=flag))
    assert flag.is_set()
