"""Helpers shared by the reliability tests (issue 7); this module holds no tests.

- `operator_process(...)`: the operator as a process, optionally with `--debug` or with the
  Atlassian client built with other keyword arguments (e.g. a 1 s request timeout instead of
  the default 30 s, which no flag or environment variable can lower yet); checked at teardown
  like the `operator` fixture (no Traceback, no API key in its log).
- `ObjectWatch`: every version of one object the API server stored (`kubectl get --watch`), so
  that a condition shown only for a few seconds (RateLimited while a listing waits) is seen.
- `BulkKube`: the official Python client with a thread pool, to create or patch thousands of
  objects in seconds (kubectl would take minutes).
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
from pathlib import Path
from typing import Any

from support.e2e import API_KEY
from support.operator import OperatorProcess

GROUP, VERSION = "atlassian.operators.dev", "v1alpha1"
ACCOUNTS, ORGS = "atlassianaccounts", "atlassianorgs"

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


class ObjectWatch:
    """Every stored version of one object (or of those a label `selector` matches), from
    `kubectl get --watch -o json`, in a thread."""

    def __init__(
        self, kube: Any, kind: str, name: str | None = None, *, selector: str | None = None
    ) -> None:
        what = [f"{kind}/{name}"] if name else [kind, f"--selector={selector}"]
        cmd = [
            "kubectl",
            f"--kubeconfig={kube.kubeconfig}",
            f"--namespace={kube.namespace}",
            "get",
            *what,
            "--watch",
            "-o",
            "json",
        ]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=kube.env
        )
        self._versions: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        decoder, buffer = json.JSONDecoder(), ""
        for line in self._proc.stdout:
            buffer += line
            while True:
                text = buffer.lstrip()
                if not text:
                    buffer = ""
                    break
                try:
                    obj, end = decoder.raw_decode(text)
                except ValueError:
                    break  # an object still arriving
                with self._lock:
                    self._versions.append(obj)
                buffer = text[end:]

    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(v.get("status") or {}) for v in self._versions]

    def versions(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._versions)

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._thread.join(timeout=10)  # it reads to the end; closing under it would raise
        if self._proc.stdout is not None:
            self._proc.stdout.close()

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

    def create_accounts(self, specs: dict[str, dict[str, Any]]) -> None:
        def create(item: tuple[str, dict[str, Any]]) -> None:
            self.custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                ACCOUNTS,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "AtlassianAccount",
                    "metadata": {"name": item[0]},
                    "spec": item[1],
                },
            )

        self._map(create, specs.items())

    def patch_accounts(self, names: Iterable[str], spec: dict[str, Any]) -> None:
        def patch(name: str) -> None:
            self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, ACCOUNTS, name, {"spec": spec}
            )

        self._map(patch, names)

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
