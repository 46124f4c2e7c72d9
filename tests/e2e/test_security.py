"""Least authority, end to end: the operator is no way to read Secrets, and says who asked.

The attacker's stand-in is a TCP listener on loopback that counts every connection: a refused
base URL must not even be connected to, whether it says http or https.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from support.e2e import E2E, condition

pytestmark = pytest.mark.e2e

IDS = {
    "by-apply": "a10000000000000000000001",
    "by-patch": "a20000000000000000000002",
    "by-ssa": "a30000000000000000000003",
}
LABEL = "atlassian.operators.dev/api-key"


class Listener:
    """Accepts and counts connections; never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def attacker() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def test_a_secret_without_the_opt_in_label_is_never_used(e2e: E2E) -> None:
    e2e.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-password"},
            "stringData": {"api-key": "not-an-atlassian-key"},
        }
    )
    e2e.org(secret=False, apiKeySecretRef={"name": "db-password"})
    org = e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready", "reason") == "SecretNotUsable",
        "SecretNotUsable",
    )
    message = str(condition(org, "Ready", "message"))
    assert f"not labelled {LABEL}=true" in message and "kubectl" in message
    assert "not-an-atlassian-key" not in json.dumps(org)
    assert e2e.sim.requests() == [], "nothing was sent to the (allowed) simulator"
    # Labelling it is the Secret owner's opt-in; the org then works without being touched.
    e2e.kube.kubectl("label", "secret", "db-password", f"{LABEL}=true")
    e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready", "reason") == "AuthenticationFailed",
        "the key is used (and rejected) once opted in",
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_base_url_not_allowed_is_refused_before_the_key_is_read(
    e2e: E2E, attacker: Listener, scheme: str
) -> None:
    url = f"{scheme}://127.0.0.1:{attacker.port}"
    e2e.org(apiBaseURL=url)
    org = e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready", "reason") == "APIBaseURLNotAllowed",
        "APIBaseURLNotAllowed",
    )
    message = str(condition(org, "Ready", "message"))
    assert url in message and "--allow-api-base-url" in message
    assert ("plain http is refused" in message) == (scheme == "http")
    # A later sync, asked for and answered, still connects to nobody.
    answered = e2e.request_sync()
    e2e.wait_status(
        "aorg",
        "acme",
        lambda s: s.get("observedSyncRequest") == answered,
        "a sync after the request",
    )
    assert attacker.connections == 0
    assert e2e.sim.requests() == []


def test_last_action_names_who_asked(e2e: E2E) -> None:
    """kubectl apply, kubectl patch and a server-side apply by a GitOps-like field manager."""
    for name, account_id in IDS.items():
        e2e.sim.add_user(
            account_id=account_id,
            name=name,
            email=f"{name}@acme.example",
            account_status="active",
        )
    e2e.org(suspension={"maxPerSync": 10})
    e2e.wait_synced()
    e2e.account("by-apply", accountId=IDS["by-apply"], desiredState="Suspended")
    e2e.account("by-patch", accountId=IDS["by-patch"])
    e2e.kube.kubectl(
        "patch", "aacct/by-patch", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    manifest = {
        "apiVersion": "atlassian.operators.dev/v1beta1",
        "kind": "AtlassianAccount",
        "metadata": {"name": "by-ssa"},
        "spec": {
            "orgRef": {"name": "acme"},
            "accountId": IDS["by-ssa"],
            "desiredState": "Suspended",
        },
    }
    e2e.kube.kubectl(
        "apply", "--server-side", "--field-manager=flux-offboarding", "-f", "-",
        input=json.dumps(manifest),
    )  # fmt: skip
    for name, manager in (
        ("by-apply", "kubectl-client-side-apply"),
        ("by-patch", "kubectl-patch"),
        ("by-ssa", "flux-offboarding"),
    ):
        status = e2e.wait_status("aacct", name, lambda s: "lastAction" in s, f"{name} suspended")
        assert status["lastAction"]["requestedBy"] == manager
        assert status["lastAction"]["result"] == "Succeeded"
        events = [ev for ev in e2e.events(name) if ev["reason"] == "Suspended"]
        assert len(events) == 1 and f"desiredState set by {manager}" in events[0]["message"]
