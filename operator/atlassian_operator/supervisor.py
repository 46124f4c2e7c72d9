"""kopf runs only while the CRDs are served: deleting them never ends the process.

Deleting the CRDs (an uninstall in the wrong order, a cluster admin cleaning up) makes kopf's
watch streams answer 404 and kopf end with an error; run by a Deployment, the operator would
crash-loop until it is deleted too. Instead, the supervisor stops kopf (or notices that it
stopped) when the kinds are no longer served, says so in one log line, fails the readiness
probe while staying alive for the liveness probe, and starts kopf again once both kinds are
served: objects created meanwhile are listed and reconciled as at any start. Nothing is held
across kopf's runs: every object and status went with the CRDs.

Whether the kinds are served is decided in one place, `core.served.not_served`, from the API
server's discovery; kopf's own CRD scanning cannot be the source: it is off for a namespaced
install (which may not list CRDs), and with it on a watch can still hit the 404 first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from atlassian_operator.health import Health

logger = logging.getLogger("atlassian_operator")

# How often the kinds' discovery is read while kopf runs, and while waiting for them.
POLL_SECONDS = 2.0

WhyNot = Callable[[], str | None]  # why the operator cannot act now, None when it can


def run_while_served(
    run: Callable[[threading.Event], None],
    why_not: WhyNot,
    health: Health,
    stopping: threading.Event,
    poll: float = POLL_SECONDS,
) -> None:
    """Run kopf (`run`, which returns once the event it is given is set) while `why_not()`
    is None; return when kopf stops on its own (SIGTERM) or `stopping` is set while waiting.
    An error of kopf's while the kinds are still served ends the process as before."""
    told = False  # the log says the kinds are gone: said once per absence
    while not stopping.is_set():
        why = why_not()
        if why is not None and not told:
            _gone(why, health)
            told = True
        while why is not None:
            if stopping.wait(poll):
                return
            why = why_not()
        if told:
            logger.info("The AtlassianOrg/AtlassianAccount CRDs are installed: resuming")
            told = False
        health.not_ready(None)
        gone = threading.Event()
        stop_kopf = threading.Event()
        watcher = threading.Thread(
            target=_watch, args=(why_not, health, gone, stop_kopf, poll), name="crds", daemon=True
        )
        watcher.start()
        failure: Exception | None = None
        try:
            run(stop_kopf)
        except Exception as exc:
            failure = exc
        finally:
            stop_kopf.set()
            watcher.join()
        told = gone.is_set()
        if failure is not None and not told:
            why = why_not()
            if why is None:
                raise failure
            _gone(why, health)  # a watch met the 404 before the discovery did
            told = True
        if not told:
            return  # kopf stopped on its own: SIGTERM


def _gone(why: str, health: Health) -> None:
    health.not_ready(why)
    logger.warning("%s", why[:1].upper() + why[1:])


def _watch(
    why_not: WhyNot, health: Health, gone: threading.Event, stop_kopf: threading.Event, poll: float
) -> None:
    """While kopf runs: stop it once the kinds are no longer served."""
    while not stop_kopf.wait(poll):
        why = why_not()
        if why is not None:
            gone.set()
            _gone(why, health)  # at once: kopf's clean-up may take a while
            stop_kopf.set()
