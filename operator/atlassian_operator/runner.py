"""`atlassian-operator run`: start kopf with the operator's handlers and its metrics endpoint."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atlassian_operator.leadership import (
    DURATION_SECONDS,
    RENEW_DEADLINE_SECONDS,
    RETRY_SECONDS,
    KubeLeaseStore,
    Leadership,
)

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
        help="liveness endpoint port, /healthz; 0 turns it off (default 8081)",
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
        "line, for log pipelines (default full)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--debug", action="store_true", help="log everything, including kopf's")


def main(args: argparse.Namespace) -> int:
    import kopf

    from atlassian_operator.reconcile.metrics import Metrics

    kopf.configure(
        debug=args.debug,
        verbose=args.verbose or args.debug,
        log_format=kopf.LogFormat[args.log_format.upper()],
    )
    # While the API server readies the storage of a CRD just created, kopf's first LIST gets
    # 429 "storage is (re)initializing" and retries; that is start-up, not an error.
    for handler in logging.getLogger().handlers:  # kopf's loggers are passed around: filter
        handler.addFilter(_StartupNoise())  # where every record ends up
    logging.getLogger("atlassian_operator").setLevel(logging.DEBUG if args.debug else logging.INFO)
    if not args.verbose and not args.debug:
        # One line per watch event or HTTP request drowns what matters at 10,000 accounts.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
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
    liveness = f"http://{args.bind}:{args.health_port}/healthz" if args.health_port else None
    leadership = _leadership(args) if args.leader_election else None
    if leadership is not None:
        metrics.leader.set(0)
        # Waiting is healthy: answer the liveness probe until kopf serves it.
        with _standby_liveness(args.bind, args.health_port):
            leadership.acquire()
        leadership.keep(on_lost=_lost)
    metrics.leader.set(1)
    try:
        _run_kopf(args, kopf, metrics, namespaces, liveness)
    finally:
        if leadership is not None:
            leadership.release()
    return 0


def _run_kopf(
    args: argparse.Namespace, kopf: Any, metrics: Any, namespaces: list[str], liveness: str | None
) -> None:
    from atlassian_operator.handlers import event_memories

    asyncio.run(
        kopf.operator(
            standalone=True,  # one acting operator is the Lease's job (--leader-election)
            memories=event_memories(),
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness,
            memo=kopf.Memo(
                metrics=metrics,
                namespaced=bool(namespaces),
                atlassian_timeout=args.atlassian_timeout,
                allowed_base_urls=tuple(args.allowed_base_urls),
            ),
        )
    )


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


@contextlib.contextmanager
def _standby_liveness(bind: str, port: int) -> Iterator[None]:
    """/healthz answers 200 while the operator waits for the lease (kopf's comes later)."""
    if not port:
        yield
        return

    class Standby(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"waiting for the leader-election lease\n"
            self.send_response(200 if self.path.startswith("/healthz") else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer((bind, port), Standby)
    thread = threading.Thread(target=server.serve_forever, name="standby-liveness", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _lost(why: str) -> None:
    """Stop at once: another operator may be acting already (the Pod is restarted)."""
    logging.getLogger("atlassian_operator").error("stopping: %s", why)
    logging.shutdown()
    os._exit(3)


class _StartupNoise(logging.Filter):
    """Demote kopf's retried 'storage is (re)initializing' from ERROR to INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "storage is (re)initializing" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True
