"""`atlassian-operator run`: start kopf with the operator's handlers and its metrics endpoint."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atlassian_operator.health import Health, serve
from atlassian_operator.leadership import (
    DURATION_SECONDS,
    RENEW_DEADLINE_SECONDS,
    RETRY_SECONDS,
    KubeLeaseStore,
    Leadership,
)
from atlassian_operator.logfields import LoggerName, text_formatter

_POD_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="watch this namespace (repeatable)",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)"
    )
    # Refused with a reason (see `run`), not unknown: it was documented before --leader-election.
    parser.add_argument("--peering", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument(
        "--leader-election",
        action="store_true",
        help="act only while holding a coordination.k8s.io Lease, so that a replacement Pod "
        "waits until this one has stopped (the shipped manifests turn it on)",
    )
    parser.add_argument(
        "--leader-election-id",
        default="atlassian-operator",
        metavar="NAME",
        help="the Lease's name (default atlassian-operator; one per operator Deployment)",
    )
    parser.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="the Lease's namespace (default: $POD_NAMESPACE, or the Pod's own namespace)",
    )
    parser.add_argument(
        "--leader-election-lease-duration",
        type=float,
        default=DURATION_SECONDS,
        metavar="SECONDS",
        help="how long a lease that is not renewed blocks a standby: the failover time after a "
        f"crash (default {DURATION_SECONDS:.0f})",
    )
    parser.add_argument(
        "--leader-election-renew-deadline",
        type=float,
        default=RENEW_DEADLINE_SECONDS,
        metavar="SECONDS",
        help="the holder exits if it cannot renew for this long; shorter than the duration "
        f"(default {RENEW_DEADLINE_SECONDS:.0f})",
    )
    parser.add_argument(
        "--leader-election-retry-period",
        type=float,
        default=RETRY_SECONDS,
        metavar="SECONDS",
        help=f"how often to renew, or to try to take the lease (default {RETRY_SECONDS:.0f})",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=8080,
        help="Prometheus metrics port; 0 turns metrics off (default 8080)",
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=8081,
        help="port of the liveness (/healthz) and readiness (/readyz) endpoints; 0 turns them "
        "off (default 8081)",
    )
    parser.add_argument(
        "--bind",
        default="0.0.0.0",
        help="address for the metrics and health endpoints (default 0.0.0.0)",
    )
    parser.add_argument(
        "--atlassian-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="timeout of each Atlassian request; retried with backoff (default 30)",
    )
    parser.add_argument(
        "--allow-api-base-url",
        action="append",
        dest="allowed_base_urls",
        default=[],
        metavar="URL",
        help="a base URL besides https://api.atlassian.com that AtlassianOrgs may send their "
        "API key to (repeatable; plain http only when named here); a cluster admin's choice",
    )
    parser.add_argument(
        "--log-format",
        choices=["full", "plain", "json"],
        default="full",
        help="full: time, logger and level; plain: the message only; json: one JSON object per "
        "line, for log pipelines, with the namespace, org, account and action a line is about "
        "as fields (default full)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--debug", action="store_true", help="log everything, including kopf's")


def main(args: argparse.Namespace) -> int:
    import kopf

    from atlassian_operator.reconcile.metrics import Metrics

    configure_logging(args.log_format, debug=args.debug, verbose=args.verbose)
    if args.peering is not None:
        raise SystemExit(
            "error: --peering is not supported: kopf's peering pauses kopf's handlers but not "
            "the operator's per-org loops, so two replicas would both call Atlassian. Run "
            "replicas with --leader-election instead (a Lease: only its holder acts)"
        )
    from atlassian_operator import handlers  # noqa: F401 - registers the handlers with kopf

    metrics = Metrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.bind)
    namespaces = args.namespaces or []
    health = Health()  # a standby is alive and ready: ready to take over (rollouts wait for it)
    stop_health = serve(health, args.bind, args.health_port) if args.health_port else None
    leadership = _leadership(args) if args.leader_election else None
    try:
        if leadership is not None:
            metrics.leader.set(0)
            with _exit_on_sigterm("waiting for the leader-election lease"):
                leadership.acquire()
            leadership.keep(on_lost=_lost)
        metrics.leader.set(1)
        try:
            _run_while_served(args, kopf, metrics, namespaces, health)
        finally:
            if leadership is not None:
                leadership.release()
    finally:
        if stop_health is not None:
            stop_health()
    return 0


@contextlib.contextmanager
def _exit_on_sigterm(doing: str) -> Iterator[None]:
    """While `doing`, a SIGTERM ends the process at once, cleanly (exit 0). As a container's
    PID 1 the process would otherwise ignore it (the kernel drops a signal PID 1 has no handler
    for), and a standby would hold up every rollout and uninstall for its whole grace period."""

    def stop(signum: int, frame: object) -> None:
        logging.getLogger("atlassian_operator").info("SIGTERM while %s: stopping", doing)
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def configure_logging(log_format: str, *, debug: bool = False, verbose: bool = False) -> None:
    """kopf's log handler, in `log_format` (full, plain or json), with the operator's filters."""
    import kopf

    kopf.configure(
        debug=debug, verbose=verbose or debug, log_format=kopf.LogFormat[log_format.upper()]
    )
    # While the API server readies the storage of a CRD just created, kopf's first LIST gets
    # 429 "storage is (re)initializing" and retries; that is start-up, not an error.
    for handler in logging.getLogger().handlers:  # kopf's loggers are passed around: filter
        handler.addFilter(_StartupNoise())  # where every record ends up
        handler.addFilter(_KindsGone(keep=debug))
        if log_format == "full":
            handler.setFormatter(text_formatter())  # kopf's cuts logger names at 20 characters
        elif log_format == "json":
            handler.addFilter(LoggerName())  # the namespace, org, ... are fields already
    logging.getLogger("atlassian_operator").setLevel(logging.DEBUG if debug else logging.INFO)
    if not verbose and not debug:
        # One line per watch event or HTTP request drowns what matters at 10,000 accounts.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _run_while_served(
    args: argparse.Namespace, kopf: Any, metrics: Any, namespaces: list[str], health: Health
) -> None:
    """kopf, stopped while the CRDs are not served and started again when they are."""
    from atlassian_operator.core.served import not_served
    from atlassian_operator.handlers import event_memories
    from atlassian_operator.reconcile.kube import KubeError, new_api_client, served_kinds
    from atlassian_operator.supervisor import run_while_served

    api_client = new_api_client()

    def why_not() -> str | None:
        try:
            return not_served(served_kinds(api_client))
        except KubeError as exc:  # no answer: kopf meets the same API server and says so
            logging.getLogger("atlassian_operator").debug("Discovery failed: %s", exc)
            return None

    async def kopf_until(stop: threading.Event) -> None:
        # kopf waits for a threading.Event on a thread of asyncio's default executor, which
        # asyncio.run then waits for at exit: after a SIGTERM, for ever. Relay it to an
        # asyncio.Event from a daemon thread instead.
        loop, flag = asyncio.get_running_loop(), asyncio.Event()

        def relay() -> None:
            stop.wait()
            with contextlib.suppress(RuntimeError):  # kopf's loop has ended already
                loop.call_soon_threadsafe(flag.set)

        threading.Thread(target=relay, name="stop-kopf", daemon=True).start()
        await kopf.operator(
            standalone=True,  # one acting operator is the Lease's job (--leader-election)
            memories=event_memories(),
            clusterwide=not namespaces,
            namespaces=namespaces,
            stop_flag=flag,
            memo=kopf.Memo(
                metrics=metrics,
                health=health,
                stop_flag=flag,
                namespaced=bool(namespaces),
                atlassian_timeout=args.atlassian_timeout,
                allowed_base_urls=tuple(args.allowed_base_urls),
            ),
        )

    def run(stop: threading.Event) -> None:
        try:
            asyncio.run(kopf_until(stop))
        finally:
            health.watch(None, None)
            # asyncio.run's loop put SIGTERM back to its default: waiting must stop on it too.
            signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        run_while_served(run, why_not, health, stopping)
    finally:
        api_client.close()  # type: ignore[no-untyped-call]


def _leadership(args: argparse.Namespace) -> Leadership:
    namespace = args.leader_election_namespace or os.environ.get("POD_NAMESPACE")
    if not namespace:
        try:
            namespace = Path(_POD_NAMESPACE_FILE).read_text().strip()
        except OSError:
            raise SystemExit(
                "error: --leader-election needs a namespace for its Lease: pass "
                "--leader-election-namespace, or set POD_NAMESPACE"
            ) from None
    retry, deadline, duration = (
        args.leader_election_retry_period,
        args.leader_election_renew_deadline,
        args.leader_election_lease_duration,
    )
    if not 0 < retry < deadline < duration:
        raise SystemExit(
            "error: --leader-election needs 0 < retry period < renew deadline < lease duration "
            f"(got {retry:g}, {deadline:g}, {duration:g}): the holder must give up before a "
            "standby may take over"
        )
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    store = KubeLeaseStore(namespace, args.leader_election_id, renew_deadline=deadline)
    return Leadership(store, identity, duration=duration, renew_deadline=deadline, retry=retry)


def _lost(why: str) -> None:
    """Stop at once: another operator may be acting already (the Pod is restarted)."""
    logging.getLogger("atlassian_operator").error("stopping: %s", why)
    logging.shutdown()
    os._exit(3)


class _KindsGone(logging.Filter):
    """kopf's watch streams fail with 404 when the CRDs are deleted, and kopf logs each with a
    traceback; the supervisor says why in one line instead (or, if the kinds are served after
    all, the error ends the process with its traceback as before). `keep`: log them as DEBUG."""

    def __init__(self, keep: bool) -> None:
        super().__init__()
        self.keep = keep

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not record.name.startswith("kopf") or getattr(error, "status", None) != 404:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return self.keep


class _StartupNoise(logging.Filter):
    """Demote kopf's retried 'storage is (re)initializing' from ERROR to INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "storage is (re)initializing" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True
