"""The world of one end-to-end test: its namespace, the simulator, the operator, kubectl verbs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import yaml

from support.operator import OperatorProcess
from support.simulator import Simulator

API_KEY = "e2e-secret-key-0f3c9a"
API_KEY_LABEL = "atlassian.operators.dev/api-key"  # a Secret's opt-in to serve as an API key


class E2E:
    """One test's world: its namespace, the simulator, the operator, and kubectl verbs."""

    def __init__(self, kube: Any, sim: Simulator, operator: OperatorProcess) -> None:
        self.kube, self.sim, self.operator = kube, sim, operator

    def apply(self, manifest: str | dict[str, Any] | list[dict[str, Any]]) -> None:
        if not isinstance(manifest, str):
            docs = manifest if isinstance(manifest, list) else [manifest]
            manifest = yaml.safe_dump_all(docs)
        self.kube.kubectl("apply", "-f", "-", input=manifest)

    def secret(
        self, name: str = "atlassian-api-key", key: str = "api-key", value: str = API_KEY
    ) -> None:
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "labels": {API_KEY_LABEL: "true"}},
                "stringData": {key: value},
            }
        )

    def org_manifest(self, name: str = "acme", **spec: Any) -> dict[str, Any]:
        """An AtlassianOrg pointing at this test's simulator; `spec` overrides the defaults."""
        return {
            "apiVersion": "atlassian.operators.dev/v1beta1",
            "kind": "AtlassianOrg",
            "metadata": {"name": name},
            "spec": {
                "orgId": self.sim.org_id,
                "apiKeySecretRef": {"name": "atlassian-api-key"},
                "apiBaseURL": self.sim.url,
                "syncInterval": "30s",
                **spec,
            },
        }

    def org(self, name: str = "acme", secret: bool = True, **spec: Any) -> None:
        if secret:
            self.secret()
        self.apply(self.org_manifest(name, **spec))

    def account(self, name: str, org: str = "acme", **spec: Any) -> None:
        self.apply(
            {
                "apiVersion": "atlassian.operators.dev/v1beta1",
                "kind": "AtlassianAccount",
                "metadata": {"name": name},
                "spec": {"orgRef": {"name": org}, **spec},
            }
        )

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.kube.get_json(kind, name)

    def status(self, kind: str, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(kind, name).get("status") or {}
        return status

    def wait_status(
        self,
        kind: str,
        name: str,
        predicate: Callable[[dict[str, Any]], Any],
        describe: str,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def check() -> Any:
            nonlocal last
            last = self.status(kind, name)
            return predicate(last)

        try:
            self.kube.wait_for(check, timeout, describe)
        except BaseException:
            print(f"last status of {kind}/{name}: {json.dumps(last, indent=1)}")
            print(f"operator log tail:\n{self.operator.log_text()[-3000:]}")
            raise
        return last

    def wait_synced(
        self, org: str = "acme", timeout: float = 30.0, after: str | None = None
    ) -> dict[str, Any]:
        """Synced=True; with `after` (a `request_sync` token), from a sync that began after it."""
        return self.wait_status(
            "aorg",
            org,
            lambda s: (
                condition(s, "Synced") == "True"
                and (after is None or s.get("observedSyncRequest") == after)
            ),
            f"org {org} Synced=True" + (f" by a sync after request {after}" if after else ""),
            timeout,
        )

    def request_sync(self, org: str = "acme") -> str:
        """Ask for a sync now; returns the token the org's status.observedSyncRequest will show
        once a sync that started after this request has finished (succeeded or failed)."""
        token = str(time.time_ns())
        self.kube.kubectl(
            "annotate",
            "--overwrite",
            f"aorg/{org}",
            f"atlassian.operators.dev/sync-requested={token}",
        )
        return token

    def later_sync(self, org: str = "acme") -> dict[str, Any]:
        """A positive signal that the operator looked again: a sync requested and answered."""
        token = self.request_sync(org)
        return self.wait_status(
            "aorg", org, lambda s: s.get("observedSyncRequest") == token, f"sync {token} answered"
        )

    def events(self, name: str) -> list[dict[str, Any]]:
        items = json.loads(
            self.kube.kubectl(
                "get",
                "events",
                "--field-selector",
                f"involvedObject.name={name}",
                "-o",
                "json",
            ).stdout
        )["items"]
        # In the order they were posted: resourceVersions of new objects only grow.
        return sorted(items, key=lambda e: int(e["metadata"]["resourceVersion"]))


def condition(status: dict[str, Any], type_: str, field: str = "status") -> str | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c.get(field)  # type: ignore[no-any-return]
    return None
