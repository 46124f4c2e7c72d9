"""Helpers shared by the reliability tests (issue 7) and `hack/bench.py`; this module holds no
tests.

- `operator_process(...)`: the operator as a process, optionally with `--debug` or with the
  Atlassian client built with other keyword arguments (e.g. a 1 s request timeout instead of
  the default 30 s, which no flag or environment variable can lower yet); checked at teardown
  like the `operator` fixture (no Traceback, no API key in its log).
- `ObjectWatch`: every version of one object (or of every object of a kind) the API server
  stored (`kubectl get --watch`), so that a condition shown only for a few seconds (RateLimited
  while a listing waits) is seen; each with its arrival time, so that writes can be counted
  and timed.
- `BulkKube`: the official Python client with a thread pool, to create or patch thousands of
  objects in seconds (kubectl would take minutes), and single patches without a kubectl
  process where a latency is measured.
- small readers of the simulator's request log.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from support.e2e import API_KEY
from support.operator import OperatorProcess

GROUP, VERSION = "atlassian.operators.dev", "v1beta1"
ACCOUNTS, ORGS = "atlassianaccounts", "atlassianorgs"
SYNC_ANNOTATION = f"{GROUP}/sync-requested"

# The operator's own entry point, with `handlers.new_client` replaced before kopf starts so that
# every org's AtlassianClient gets these keyword arguments. Everything else is the real code.
_TUNED_MAIN = """
import json, sys
from atlassian_operator import cli, handlers
from atlassian_operator.atlassian import AtlassianClient
kwargs = json.loads(sys.argv[1])
def new_client(api_key, base_url, observer, **defaults):
    return AtlassianClient(api_key, base_url=base_url, observer=observer, **{**defaults, **kwargs})
handlers.new_client = new_client
sys.exit(cli.main(sys.argv[2:]))
"""


def tuned_operator(
    kubeconfig: Path | str,
    namespaces: Sequence[str],
    client_kwargs: dict[str, Any],
    extra_args: Sequence[str] = (),
    allow: Sequence[str] = (),
) -> OperatorProcess:
    """`atlassian-operator run` whose Atlassian clients get `client_kwargs` (e.g. fast retries)."""
    launcher = ["-c", _TUNED_MAIN, json.dumps(client_kwargs)]
    return OperatorProcess(kubeconfig, namespaces, extra_args, launcher=launcher, allow=allow)


@contextlib.contextmanager
def operator_process(
    kube: Any,
    *,
    allow: Sequence[str],
    extra_args: Sequence[str] = (),
    client_kwargs: dict[str, Any] | None = None,
    secrets: Iterable[str] = (API_KEY,),
) -> Iterator[OperatorProcess]:
    """A started operator for the test's namespace, checked like the `operator` fixture.

    `allow`: the simulators' base URLs, which the operator may send API keys to.
    """
    op: OperatorProcess = (
        tuned_operator(kube.kubeconfig, [kube.namespace], client_kwargs, extra_args, allow)
        if client_kwargs is not None
        else OperatorProcess(kube.kubeconfig, [kube.namespace], extra_args, allow=allow)
    )
    op.start()
    try:
        yield op
    finally:
        op.stop()
        op.assert_clean_log(secrets, errors_allowed=True)


class WatchEvent(NamedTuple):
    """One stored version as the watch delivered it, with the moment it arrived (`time.time()`)."""

    time: float
    type: str  # ADDED (also every object already there when the watch began), MODIFIED, DELETED
    name: str
    status: dict[str, Any]


class ObjectWatch:
    """Every stored version of one object, of those a label `selector` matches, or (neither
    given) of every object of `kind` in the namespace, from `kubectl get --watch -o json`, in a
    thread.

    Each version is also kept as a `WatchEvent`, with its arrival time, so that a benchmark can
    count writes (MODIFIED events) and time them; `keep` trims what is stored of each version
    (default: all of it), for watches on thousands of objects.
    """

    def __init__(
        self,
        kube: Any,
        kind: str,
        name: str | None = None,
        *,
        selector: str | None = None,
        keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        what = [f"{kind}/{name}"] if name else [kind]
        if not name and selector is not None:
            what.append(f"--selector={selector}")
        self._cmd = [
            "kubectl",
            f"--kubeconfig={kube.kubeconfig}",
            f"--namespace={kube.namespace}",
            "get",
            *what,
            "--watch",
            "--output-watch-events",  # one line per event: {"type": ..., "object": ...}
            "-o",
            "json",
        ]
        self._env = kube.env
        self._keep = keep
        self._versions: list[dict[str, Any]] = []
        self._events: list[WatchEvent] = []
        self._latest: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._ended = False
        self._proc = self._kubectl()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _kubectl(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self._cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self._env
        )

    def _read(self) -> None:
        # The API server ends every watch after 30 to 60 minutes, and kubectl with it: start it
        # again (its listing comes as ADDED events), until stopped.
        while True:
            self._read_until_kubectl_ends(self._proc)
            if self._stopping.wait(0.5):
                break
            with self._changed:
                if self._stopping.is_set():
                    break
                self._proc = self._kubectl()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _read_until_kubectl_ends(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        decoder, buffer = json.JSONDecoder(), ""
        for line in proc.stdout:
            buffer += line
            # An object ends on a line that starts in the first column; trying to decode every
            # line would parse each object again and again (a watch on thousands of objects).
            if line[:1].isspace():
                continue
            while True:
                text = buffer.lstrip()
                if not text:
                    buffer = ""
                    break
                try:
                    event, end = decoder.raw_decode(text)
                except ValueError:
                    break  # an object still arriving
                self._add(event)
                buffer = text[end:]
        proc.wait()
        proc.stdout.close()

    def _add(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        # kubectl prints the listing it starts with in chunks of 500, each as one List object.
        items = obj.get("items") if obj.get("kind", "").endswith("List") else None
        for item in items if items is not None else [obj]:
            self._add_version(str(event.get("type", "")), item)

    def _add_version(self, type_: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        meta.pop("managedFields", None)  # as `kubectl get -o json` prints objects
        kept = self._keep(obj) if self._keep is not None else obj
        name = str(meta.get("name", ""))
        status = kept.get("status") or {}
        with self._changed:
            self._versions.append(kept)
            self._events.append(WatchEvent(time.time(), type_, name, status))
            self._latest[name] = status
            self._changed.notify_all()

    def statuses(self) -> list[dict[str, Any]]:
        with self._changed:
            return [dict(v.get("status") or {}) for v in self._versions]

    def versions(self) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._versions)

    @property
    def ended(self) -> bool:
        """The watch was stopped."""
        return self._ended

    def count(self) -> int:
        """How many versions have arrived so far: a position for `events(since)`."""
        with self._changed:
            return len(self._events)

    def events(self, since: int = 0) -> list[WatchEvent]:
        with self._changed:
            return self._events[since:]

    def latest(self, name: str) -> dict[str, Any]:
        """The status of the last version of `name` seen (empty if none)."""
        with self._changed:
            return self._latest.get(name, {})

    def wait(self, predicate: Callable[[ObjectWatch], Any], timeout: float) -> bool:
        """Wait until `predicate(self)` holds, checked again as each version arrives; False on
        timeout or once the watch was stopped without it holding."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = len(self._events)
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._ended:
                return False
            with self._changed:
                self._changed.wait_for(partial(self._moved_on, seen), min(remaining, 1.0))

    def _moved_on(self, seen: int) -> bool:
        return len(self._events) != seen or self._ended

    def quiet_for(self, seconds: float, timeout: float = 120.0) -> bool:
        """Wait until no version has arrived for `seconds`; False if that never happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._changed:
                last = self._events[-1].time if self._events else 0.0
            if time.time() - last >= seconds:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        with self._changed:
            self._stopping.set()
            proc = self._proc
        proc.terminate()
        proc.wait(timeout=10)
        self._thread.join(timeout=10)  # it reads to the end of kubectl's output first
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> ObjectWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BulkKube:
    """Thousands of creates and patches in parallel through the official Python client."""

    def __init__(self, kube: Any, threads: int = 16) -> None:
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kube.kubeconfig), client_configuration=cfg)
        cfg.connection_pool_maxsize = threads
        self._api = client.ApiClient(cfg)
        self.custom = client.CustomObjectsApi(self._api)
        self.namespace = kube.namespace
        self.threads = threads

    def _map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> None:
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(fn, items))

    def _create(self, plural: str, kind: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            plural,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": kind,
                "metadata": {"name": name},
                "spec": spec,
            },
        )

    def create_accounts(self, specs: dict[str, dict[str, Any]]) -> None:
        self._map(lambda item: self._create(ACCOUNTS, "AtlassianAccount", *item), specs.items())

    def create_orgs(self, specs: dict[str, dict[str, Any]]) -> None:
        self._map(lambda item: self._create(ORGS, "AtlassianOrg", *item), specs.items())

    def patch_account(self, name: str, spec: dict[str, Any]) -> None:
        """One spec patch, in this thread (a latency measurement starts just before it)."""
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ACCOUNTS, name, {"spec": spec}
        )

    def patch_accounts(self, names: Iterable[str], spec: dict[str, Any]) -> None:
        self._map(lambda name: self.patch_account(name, spec), names)

    def account(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ACCOUNTS, name
        )
        return obj

    def accounts(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ACCOUNTS
        )["items"]
        return items

    def delete_accounts(self, **kwargs: Any) -> None:
        """Every AtlassianAccount of the namespace, in one request (a deletecollection)."""
        self.custom.delete_collection_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ACCOUNTS, **kwargs
        )

    def org(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ORGS, name
        )
        return obj

    def patch_org(self, name: str, patch: dict[str, Any]) -> None:
        """A merge patch of one AtlassianOrg, e.g. `{"spec": {...}}`."""
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ORGS, name, patch
        )

    def request_sync(self, org: str) -> str:
        """Ask for a sync now, as `E2E.request_sync` does but without a kubectl process; returns
        the token that the org's status.observedSyncRequest shows once such a sync has ended."""
        token = str(time.time_ns())
        self.patch_org(org, {"metadata": {"annotations": {SYNC_ANNOTATION: token}}})
        return token

    def close(self) -> None:
        self._api.close()


def sim_time(entry: dict[str, Any]) -> float:
    """A simulator request-log timestamp (UTC, milliseconds) as Unix seconds."""
    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def calls(
    sim: Any, endpoint: str, account_id: str | None = None, status: int | None = None
) -> list[dict[str, Any]]:
    """The simulator's log of one endpoint, optionally for one account and one answer status."""
    return [
        c
        for c in sim.requests(endpoint)
        if (account_id is None or f"/users/{account_id}/" in c["path"])
        and (status is None or c["status"] == status)
    ]


def per_account(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many lifecycle calls each account id got."""
    counts: dict[str, int] = {}
    for entry in entries:
        account_id = entry["path"].split("/")[2]
        counts[account_id] = counts.get(account_id, 0) + 1
    return counts


def wait_until(predicate: Callable[[], Any], timeout: float, describe: str) -> Any:
    """Poll without a Kube (for checks on the simulator alone); fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {describe}; last seen: {last!r}"
            )
        time.sleep(0.1)
