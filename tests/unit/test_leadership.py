"""One acting operator at a time: the lease rule, and Leadership against an in-memory store.

The end-to-end proof (a Pod deleted in the middle of a batch of suspensions, its replacement
waiting for the lease) is tests/node/test_install.py; these pin the rule with a fake clock, and
the Kubernetes store against a loopback peer that never answers.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time

import pytest

from atlassian_operator.leadership import (
    Action,
    Conflict,
    KubeLeaseStore,
    Leadership,
    Lease,
    decide,
)

ME, OLD = "pod-b_1", "pod-a_1"


@pytest.mark.parametrize(
    ("lease", "seen_at", "now", "action"),
    [
        (None, 0.0, 0.0, Action.CREATE),
        (Lease(ME, 15, "7"), 0.0, 100.0, Action.RENEW),
        (Lease(OLD, 15, "7"), 0.0, 14.9, Action.WAIT),  # not renewed for less than its duration
        (Lease(OLD, 15, "7"), 0.0, 15.0, Action.TAKE),  # expired, on our own clock
        (Lease("", 1, "8"), 5.0, 5.0, Action.TAKE),  # released: at once
    ],
)
def test_the_rule(lease: Lease | None, seen_at: float, now: float, action: Action) -> None:
    assert decide(lease, ME, seen_at, now) is action


class MemoryStore:
    """A Lease with resourceVersions, like the API server's (conflicting writes fail)."""

    def __init__(self, lease: Lease | None = None) -> None:
        self.lease = lease
        self._versions = itertools.count(100)
        self.failing = False
        self.lock = threading.Lock()

    def get(self) -> Lease | None:
        if self.failing:
            raise ConnectionError("API server unreachable")
        return self.lease

    def create(self, holder: str, duration: float) -> Lease:
        with self.lock:
            if self.lease is not None:
                raise Conflict()
            self.lease = Lease(holder, duration, str(next(self._versions)))
            return self.lease

    def update(self, lease: Lease, holder: str, duration: float, transitions: int) -> Lease:
        with self.lock:
            if self.failing:
                raise ConnectionError("API server unreachable")
            if self.lease is None or self.lease.version != lease.version:
                raise Conflict()
            self.lease = Lease(holder, duration, str(next(self._versions)), transitions)
            return self.lease

    def renew_by(self, holder: str) -> None:
        assert self.lease is not None
        self.update(self.lease, holder, self.lease.duration, self.lease.transitions)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self._reads = 0
        self._read = threading.Condition()

    def __call__(self) -> float:
        with self._read:
            self._reads += 1
            self._read.notify_all()
            return self.now

    def show(self, now: float) -> bool:
        """Set the time, then wait until it has been read twice: the second read comes after
        whatever the reader decided from the first."""
        with self._read:
            self.now = now
            seen = self._reads + 2
            return self._read.wait_for(lambda: self._reads >= seen, timeout=5)


class SilentAfterOneRenewal(MemoryStore):
    """The API server answers one renewal; then the connection goes silent and every update
    waits for an answer that never comes (until the test closes the connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 1
        self.hanging = threading.Event()
        self.closed = threading.Event()

    def update(self, lease: Lease, holder: str, duration: float, transitions: int) -> Lease:
        if self.answers == 0:
            self.hanging.set()
            self.closed.wait()
            raise ConnectionError("connection reset")
        self.answers -= 1
        return super().update(lease, holder, duration, transitions)


def test_a_held_lease_is_taken_only_after_its_holder_stops_renewing_for_its_duration() -> None:
    store, clock = MemoryStore(), Clock()
    store.create(OLD, 15)
    me = Leadership(store, ME, clock=clock)
    assert not me.try_acquire()
    clock.now = 14
    store.renew_by(OLD)  # the holder is alive: the expiry counts from this change
    assert not me.try_acquire()
    clock.now = 28.9
    assert not me.try_acquire()
    clock.now = 29
    assert me.try_acquire()
    assert store.lease is not None and store.lease.holder == ME
    assert store.lease.transitions == 1


def test_a_released_lease_is_taken_at_once() -> None:
    store, clock = MemoryStore(), Clock()
    old = Leadership(store, OLD, clock=clock)
    assert old.try_acquire()
    new = Leadership(store, ME, clock=clock)
    assert not new.try_acquire()
    old.release()
    assert new.try_acquire()


def test_two_candidates_never_both_hold_it() -> None:
    store, clock = MemoryStore(), Clock()
    a, b = Leadership(store, "a", clock=clock), Leadership(store, "b", clock=clock)
    assert [a.try_acquire(), b.try_acquire()] == [True, False]
    clock.now = 100  # a stopped renewing long ago: b and c both see it expired
    c = Leadership(store, "c", clock=clock)
    assert not c.try_acquire()  # first sight of this version: c starts counting now
    seen = store.get()
    assert b.try_acquire()
    assert store.lease is not None and store.lease.version != (seen and seen.version)
    clock.now = 200
    assert not c.try_acquire()  # a new version: seen again, counted again
    assert store.lease.holder == "b"


def test_the_holder_stops_when_another_operator_took_the_lease() -> None:
    store = MemoryStore()
    me = Leadership(store, ME, retry=0.01, renew_deadline=5, duration=10)
    assert me.try_acquire()
    lost = threading.Event()
    why: list[str] = []
    me.keep(on_lost=lambda reason: (why.append(reason), lost.set()))
    store.renew_by(OLD)  # e.g. after this process was frozen for longer than the duration
    assert lost.wait(5)
    assert why == ["another operator holds the leader-election lease"]
    me.release()
    assert store.lease is not None and store.lease.holder == OLD  # not ours to release


def test_the_holder_stops_before_its_lease_can_expire_when_it_cannot_renew() -> None:
    store, clock = MemoryStore(), Clock()
    me = Leadership(store, ME, retry=0.01, renew_deadline=10, duration=15, clock=clock)
    assert me.try_acquire()
    lost = threading.Event()
    why: list[str] = []
    me.keep(on_lost=lambda reason: (why.append(reason), lost.set()))
    store.failing = True
    clock.now = 9.9
    assert not lost.wait(0.2)  # still within the renew deadline
    clock.now = 10
    assert lost.wait(5)
    assert why == ["the lease could not be renewed for 10s"]
    me.release()


def test_the_holder_steps_down_at_the_renew_deadline_while_a_renewal_hangs() -> None:
    """Issue 25, item 7: a renewal that never ends must not keep the operator leading while the
    standby takes the lease (at 3 + duration on its clock); it stops at 3 + renew_deadline."""
    store, clock = SilentAfterOneRenewal(), Clock()
    me = Leadership(store, ME, retry=0.01, renew_deadline=10, duration=15, clock=clock)
    assert me.try_acquire()
    clock.now = 3  # the last renewal that completes starts here
    lost = threading.Event()
    lost_at: list[float] = []
    me.keep(on_lost=lambda _: (lost_at.append(clock.now), lost.set()))
    assert store.hanging.wait(5)
    assert clock.show(12.99), "nothing watches the renew deadline while a renewal hangs"
    assert not lost.is_set()
    clock.now = 13
    assert lost.wait(5), "still leading 10s after its last renewal, with the renewal hanging"
    assert lost_at == [13]
    store.closed.set()
    me.release()


def test_every_lease_request_ends_within_the_renew_deadline_when_the_api_server_is_silent() -> None:
    """The real client against a peer that accepts connections and never answers: each read,
    create and patch gives up in time for the holder to notice (a GET is not retried)."""
    from kubernetes import client

    renew_deadline = 1.0
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:  # never accepts
        host, port = silent.getsockname()[:2]
        store = KubeLeaseStore(
            "operators",
            "atlassian-operator",
            renew_deadline=renew_deadline,
            configuration=client.Configuration(host=f"http://{host}:{port}"),
        )
        requests = {
            "get": store.get,
            "create": lambda: store.create(ME, 15),
            "patch": lambda: store.update(Lease(ME, 15, "7"), ME, 15, 0),
        }
        outcomes: dict[str, object] = {}
        ended = {name: threading.Event() for name in requests}

        def send(name: str) -> None:
            try:
                outcomes[name] = requests[name]()
            except Exception as exc:
                outcomes[name] = exc
            ended[name].set()

        sent_at = time.monotonic()
        for name in requests:
            threading.Thread(target=send, args=(name,), daemon=True).start()
        for done in ended.values():
            done.wait(max(0.0, sent_at + renew_deadline - time.monotonic()))
        waiting = [name for name, done in ended.items() if not done.is_set()]
        assert waiting == [], "still waiting for the API server after the renew deadline"
    assert all(isinstance(outcome, Exception) for outcome in outcomes.values()), outcomes


def test_renewal_keeps_the_lease_and_release_hands_it_back() -> None:
    store = MemoryStore()
    me = Leadership(store, ME, retry=0.01, renew_deadline=5, duration=10)
    me.acquire(sleep=lambda _: None)
    first = store.get()
    assert first is not None
    me.keep(on_lost=lambda reason: pytest.fail(reason))
    deadline = threading.Event()
    for _ in range(500):
        current = store.get()
        if current is not None and current.version != first.version:
            break
        deadline.wait(0.01)
    else:
        pytest.fail("the lease was never renewed")
    me.release()
    assert store.lease is not None and store.lease.holder == ""


def test_the_timings_must_leave_room_to_stop_before_expiry() -> None:
    with pytest.raises(ValueError, match="renew_deadline < duration"):
        Leadership(MemoryStore(), ME, duration=10, renew_deadline=10)


def test_run_refuses_timings_that_would_let_two_operators_act() -> None:
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "atlassian_operator.cli", "run", "--leader-election",
         "--leader-election-lease-duration=5", "--leader-election-renew-deadline=10",
         "--metrics-port=0", "--health-port=0"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "POD_NAMESPACE": "x"},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "retry period < renew deadline < lease duration (got 2, 10, 5)" in proc.stderr


def test_run_refuses_kopf_peering_and_names_the_lease_instead() -> None:
    """kopf's peering would pause kopf's handlers but not the org loops: two replicas would
    both call Atlassian. `run --peering` says so before it touches the cluster."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "atlassian_operator.cli", "run", "--peering", "default",
         "--metrics-port=0", "--health-port=0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "--peering is not supported" in proc.stderr
    assert "--leader-election" in proc.stderr
