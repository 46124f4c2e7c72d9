"""The probes' endpoints, /healthz (liveness) and /readyz (readiness), for the whole process.

One server for the process's whole life, not kopf's: kopf's health endpoint lives and dies
with one run of kopf and serves one path, but the operator outlives kopf's runs (it stops
kopf while its CRDs are not served and starts it again when they are, runner.py) and must
stay alive for the liveness probe meanwhile, or Kubernetes would restart it in a loop through
an uninstall. Readiness is separate so that "cannot act now" (CRDs missing) never restarts
the Pod; only a dead or stalled org loop fails liveness.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import threading
from collections.abc import Callable
from typing import Any

# A loop that cannot answer within this is as good as dead (the probe's timeout is 5 s).
LOOP_TIMEOUT_SECONDS = 4.0

Problems = Callable[[], list[str]]


class Health:
    """What the probes answer; the runner and the handlers update it as the operator moves
    between waiting for the Lease, waiting for the CRDs, and running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unready: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._problems: Problems | None = None

    def not_ready(self, why: str | None) -> None:
        """Readiness fails with `why` until called with None."""
        with self._lock:
            self._unready = why

    def watch(self, loop: asyncio.AbstractEventLoop | None, problems: Problems | None) -> None:
        """While kopf runs: liveness asks `problems` on kopf's loop, so that a blocked loop
        fails it too; None when that loop ends."""
        with self._lock:
            self._loop, self._problems = loop, problems

    def liveness(self) -> tuple[bool, str]:
        with self._lock:
            loop, problems = self._loop, self._problems
        if loop is None or problems is None:
            return True, "ok"  # waiting (for the Lease, for the CRDs) is healthy

        answer: concurrent.futures.Future[list[str]] = concurrent.futures.Future()

        def ask() -> None:  # on the loop: a loop that does not run never answers
            if answer.set_running_or_notify_cancel():
                try:
                    answer.set_result(problems())
                except Exception as exc:
                    answer.set_exception(exc)

        try:
            loop.call_soon_threadsafe(ask)
        except RuntimeError:  # the loop closed just now: kopf is stopping or restarting
            return True, "ok"
        try:
            found = answer.result(LOOP_TIMEOUT_SECONDS)
        except TimeoutError:
            answer.cancel()
            return False, f"the operator's event loop did not answer within {LOOP_TIMEOUT_SECONDS}s"
        return (False, "; ".join(found)) if found else (True, "ok")

    def readiness(self) -> tuple[bool, str]:
        with self._lock:
            why = self._unready
        return (False, why) if why else (True, "ok")


def serve(health: Health, bind: str, port: int) -> Callable[[], None]:
    """Serve /healthz and /readyz on a thread of their own; returns the function that stops it."""
    checks = {"/healthz": health.liveness, "/readyz": health.readiness}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            check = checks.get(self.path.split("?", 1)[0])
            ok, text = check() if check is not None else (False, "not found")
            body = f"{text}\n".encode()
            self.send_response(404 if check is None else 200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="health", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
