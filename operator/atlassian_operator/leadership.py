"""One acting operator at a time: a coordination.k8s.io Lease, held while the operator runs.

The manifests run two replicas, and Kubernetes replaces a deleted Pod at once, while the old one
is still shutting down. Without a lease several operators would act at once, and a suspension
still in flight in one could be sent again by another. The replicas that do not hold the lease
wait as standbys and take over when the holder stops.

The rules are client-go's leader election:
- a candidate takes the lease when nobody holds it, when its holder released it, or when the
  holder has not renewed it for a whole `duration`; that time is measured on the candidate's own
  clock from when it last saw the lease change, so the two machines' clocks need not agree;
- the holder renews it every `retry` seconds; if no renewal has completed for `renew_deadline`
  seconds (shorter than `duration`, so before anyone else may take it) it exits at once, even
  while a renewal is still waiting for an answer: a watchdog thread keeps that time, because a
  request on a silent connection never returns to say it failed;
- every Lease request has a timeout within the renew deadline, so a silent connection frees the
  renewer for its next try, as with client-go's own client timeout;
- a clean shutdown releases it, so the next operator starts without waiting.

`decide` is the pure rule; `Leadership` runs it against a `LeaseStore`.
"""

from __future__ import annotations

import datetime
import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

DURATION_SECONDS = 15.0
RENEW_DEADLINE_SECONDS = 10.0
RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class Lease:
    """What the stored Lease says; `version` is its resourceVersion."""

    holder: str  # "" once released
    duration: float
    version: str
    transitions: int = 0


class Action(enum.Enum):
    CREATE = "create"
    TAKE = "take"
    RENEW = "renew"
    WAIT = "wait"


def decide(lease: Lease | None, me: str, seen_at: float, now: float) -> Action:
    """What `me` does about `lease`, first seen in this version at `seen_at` (monotonic)."""
    if lease is None:
        return Action.CREATE
    if lease.holder == me:
        return Action.RENEW
    if not lease.holder or now - seen_at >= lease.duration:
        return Action.TAKE
    return Action.WAIT


class Conflict(Exception):
    """Someone else changed or created the lease first."""


class LeaseStore(Protocol):
    def get(self) -> Lease | None: ...

    def create(self, holder: str, duration: float) -> Lease: ...

    def update(self, lease: Lease, holder: str, duration: float, transitions: int) -> Lease: ...


class Leadership:
    """Acquire, keep and release one lease for `identity`."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        *,
        duration: float = DURATION_SECONDS,
        renew_deadline: float = RENEW_DEADLINE_SECONDS,
        retry: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not retry < renew_deadline < duration:
            raise ValueError("expected retry < renew_deadline < duration")
        self.store, self.identity = store, identity
        self.duration, self.renew_deadline, self.retry = duration, renew_deadline, retry
        self._clock = clock
        self._seen: tuple[str, float] | None = None  # (version, when first seen)
        self._renewed_at: float | None = None  # when the last successful write was sent
        self._stop = threading.Event()
        self._stepping_down = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    def try_acquire(self) -> bool:
        """One round: True when `identity` holds the lease afterwards."""
        sent_at = self._clock()
        try:
            lease = self.store.get()
        except Exception as exc:  # the API server may be restarting: try again later
            logger.warning("cannot read the leader-election lease: %s", _describe(exc))
            return False
        now = self._clock()
        if lease is not None and (self._seen is None or self._seen[0] != lease.version):
            self._seen = (lease.version, now)
        seen_at = self._seen[1] if self._seen else now
        action = decide(lease, self.identity, seen_at, now)
        try:
            if action is Action.CREATE:
                self.store.create(self.identity, self.duration)
            elif action is Action.TAKE:
                assert lease is not None
                self.store.update(lease, self.identity, self.duration, lease.transitions + 1)
                logger.info("took the leader-election lease from %r", lease.holder or "nobody")
            elif action is Action.RENEW:
                assert lease is not None
                self.store.update(lease, self.identity, self.duration, lease.transitions)
            else:
                return False
        except Conflict:
            return False
        except Exception as exc:
            logger.warning("cannot write the leader-election lease: %s", _describe(exc))
            return False
        self._renewed_at = sent_at
        return True

    def acquire(self, sleep: Callable[[float], object] = time.sleep) -> None:
        """Block until the lease is ours."""
        waiting_logged = False
        while not self.try_acquire():
            if not waiting_logged:
                logger.info(
                    "waiting for the leader-election lease (another operator holds it); "
                    "this one starts acting when it is released or expires"
                )
                waiting_logged = True
            sleep(self.retry)
        logger.info("holding the leader-election lease as %s", self.identity)

    def renew_once(self) -> bool | None:
        """True: renewed; False: not this time (try again); None: someone else holds it."""
        try:
            lease = self.store.get()
            if lease is None or lease.holder != self.identity:
                return None
            self.store.update(lease, self.identity, self.duration, lease.transitions)
        except Conflict:
            return False
        except Exception as exc:
            logger.warning("cannot renew the leader-election lease: %s", _describe(exc))
            return False
        return True

    def keep(self, on_lost: Callable[[str], None]) -> None:
        """Renew in a background thread. `on_lost(why)`, once, when another operator holds the
        lease, or when no renewal has completed for `renew_deadline` seconds (before it may
        expire), whether the renewals failed or are still waiting for an answer."""
        if self._renewed_at is None:
            self._renewed_at = self._clock()

        def step_down(why: str) -> None:
            with self._stepping_down:
                if self._stop.is_set():  # released, or stepped down already
                    return
                self._stop.set()
            on_lost(why)

        def renew() -> None:
            while not self._stop.wait(self.retry):
                # Stamped when sent, not when answered: the standby starts counting when it sees
                # the new version, which is after the request was sent, so the holder's deadline
                # stays ahead of the standby's expiry however late the answer comes.
                sent_at = self._clock()
                renewed = self.renew_once()
                if renewed:
                    self._renewed_at = sent_at
                elif renewed is None:
                    step_down("another operator holds the leader-election lease")
                    return

        def watch() -> None:
            # client-go's leaderelection: RenewDeadline < LeaseDuration, and a holder that cannot
            # renew within RenewDeadline stops leading; there the deadline also cancels the
            # request in flight. A Python request cannot be cancelled, so this thread keeps the
            # time and the renewer may stay blocked (until its request timeout) meanwhile.
            while True:
                assert self._renewed_at is not None
                overdue = self._clock() - self._renewed_at
                if overdue >= self.renew_deadline:
                    step_down(f"the lease could not be renewed for {self.renew_deadline:.0f}s")
                    return
                if self._stop.wait(min(self.retry, self.renew_deadline - overdue)):
                    return

        self._renewer = threading.Thread(target=renew, name="leader-election", daemon=True)
        self._watchdog = threading.Thread(target=watch, name="leader-watchdog", daemon=True)
        self._renewer.start()
        self._watchdog.start()

    def release(self) -> None:
        """Stop renewing and hand the lease back, so that the next operator starts at once."""
        with self._stepping_down:
            self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=self.retry + 5)
        if self._renewer is not None:
            self._renewer.join(timeout=self.retry + 5)
        try:
            lease = self.store.get()
            if lease is not None and lease.holder == self.identity:
                self.store.update(lease, "", 1.0, lease.transitions)
                logger.info("released the leader-election lease")
        except Exception as exc:  # it expires by itself after `duration`
            logger.warning("cannot release the leader-election lease: %s", _describe(exc))


def _describe(exc: Exception) -> str:
    """An API error as its status and reason (the client's own text dumps every header)."""
    status = getattr(exc, "status", None)
    if status:
        return f"{status} {getattr(exc, 'reason', '') or ''}".strip()
    return str(exc) or type(exc).__name__


class KubeLeaseStore:
    """The Lease `name` in `namespace`, through the official client (coordination.k8s.io/v1).

    Every request gives up after half the renew deadline: a renewal is a read and then a patch,
    and both must end within the deadline (controller-runtime gives its leader-election client
    the same RenewDeadline/2). Without a timeout, a connection that goes silent blocks the
    renewer for ever. `configuration` (a kubernetes.client.Configuration, for tests) has its
    retries turned off: urllib3 would send a timed-out GET three more times, each with a fresh
    timeout; the renewer's next round is the retry.
    """

    def __init__(
        self,
        namespace: str,
        name: str,
        *,
        renew_deadline: float = RENEW_DEADLINE_SECONDS,
        configuration: Any = None,
    ) -> None:
        from kubernetes import client, config

        if configuration is None:
            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            configuration = client.Configuration.get_default_copy()
        configuration.retries = False
        self._api: Any = client.CoordinationV1Api(client.ApiClient(configuration))
        self._timeout = renew_deadline / 2
        self.namespace, self.name = namespace, name

    def get(self) -> Lease | None:
        from kubernetes.client.exceptions import ApiException

        try:
            body = self._api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        spec = body.spec
        return Lease(
            holder=spec.holder_identity or "",
            duration=float(spec.lease_duration_seconds or DURATION_SECONDS),
            version=body.metadata.resource_version,
            transitions=spec.lease_transitions or 0,
        )

    def _spec(self, holder: str, duration: float, transitions: int, taking: bool) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec: dict[str, Any] = {
            "holderIdentity": holder or None,
            "leaseDurationSeconds": max(1, int(duration)),
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        if taking:
            spec["acquireTime"] = now
        return spec

    def create(self, holder: str, duration: float) -> Lease:
        from kubernetes.client.exceptions import ApiException

        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._spec(holder, duration, 0, taking=True),
        }
        try:
            stored = self._api.create_namespaced_lease(
                self.namespace, body, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict() from None
            raise
        return Lease(holder, duration, stored.metadata.resource_version, 0)

    def update(self, lease: Lease, holder: str, duration: float, transitions: int) -> Lease:
        """A merge patch that fails (409) unless the lease is still at `lease.version`."""
        from kubernetes.client.exceptions import ApiException

        body = {
            "metadata": {"resourceVersion": lease.version},
            "spec": self._spec(holder, duration, transitions, taking=holder != lease.holder),
        }
        try:
            stored = self._api.patch_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict() from None
            raise
        return Lease(holder, duration, stored.metadata.resource_version, transitions)
