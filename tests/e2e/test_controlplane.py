"""The local control plane is a real Kubernetes API server: schema validation, the status
subresource, conditions for `kubectl wait`, and RBAC, all checked with the real kubectl."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:  # at run time `conftest` may name another layer's conftest.py
    from conftest import Kube

pytestmark = pytest.mark.e2e


def crd_manifest(group: str) -> str:
    return f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {{type: string, enum: [Small, Large]}}
              owner: {{type: string}}
          status:
            type: object
            properties:
              phase: {{type: string}}
              conditions:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [type]
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: {{type: string}}
                    status: {{type: string, enum: ["True", "False", "Unknown"]}}
                    reason: {{type: string}}
                    message: {{type: string}}
                    lastTransitionTime: {{type: string, format: date-time}}
"""


def widget(group: str, name: str, size: str | None = "Small") -> str:
    spec = {"owner": "someone"} | ({"size": size} if size is not None else {})
    return json.dumps(
        {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}
    )


@pytest.fixture
def group(kube: Kube) -> Iterator[str]:
    """A CRD in a group of its own (CRDs are cluster-wide), Established; deleted afterwards."""
    group = f"g{uuid.uuid4().hex[:8]}.cptest.example.com"
    kube.kubectl("apply", "-f", "-", input=crd_manifest(group), namespaced=False)
    kube.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        f"crd/widgets.{group}",
        namespaced=False,
    )
    yield group
    kube.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", namespaced=False, check=False)


def test_schema_validation_is_the_servers(kube: Kube, group: str) -> None:
    kube.kubectl("apply", "--server-side", "-f", "-", input=widget(group, "good"))
    assert kube.get_json(f"widgets.{group}", "good")["spec"]["size"] == "Small"

    bogus = kube.kubectl("apply", "-f", "-", input=widget(group, "bad", "Bogus"), check=False)
    assert bogus.returncode != 0
    assert 'spec.size: Unsupported value: "Bogus": supported values: "Small", "Large"' in (
        bogus.stderr
    ), bogus.stderr

    missing = kube.kubectl("apply", "-f", "-", input=widget(group, "bad", None), check=False)
    assert missing.returncode != 0
    assert "spec.size: Required value" in missing.stderr, missing.stderr
    assert kube.kubectl("get", f"widgets.{group}", "bad", check=False).returncode != 0


def test_status_changes_only_through_the_subresource(kube: Kube, group: str) -> None:
    kind = f"widgets.{group}"
    # --server-side: kubectl 1.32's client-side create/apply of a kind whose CRD became
    # Established a moment ago pauses ~2 s (client side); server-side apply does not.
    kube.kubectl("apply", "--server-side", "-f", "-", input=widget(group, "w"))
    kube.kubectl("patch", kind, "w", "--type=merge", "-p", '{"status": {"phase": "Sneaky"}}')
    assert "status" not in kube.get_json(kind, "w")

    kube.kubectl(
        "patch",
        kind,
        "w",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Ready"}, "spec": {"size": "Large"}}',
    )
    obj = kube.get_json(kind, "w")
    assert obj["status"] == {"phase": "Ready"}
    assert obj["spec"]["size"] == "Small"  # the status subresource ignores spec


def test_kubectl_wait_sees_a_condition(kube: Kube, group: str) -> None:
    kind = f"widgets.{group}"
    kube.kubectl("apply", "--server-side", "-f", "-", input=widget(group, "w"))
    early = kube.kubectl("wait", "--for=condition=Ready", "--timeout=1s", f"{kind}/w", check=False)
    assert early.returncode != 0, early.stdout

    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "Tested",
        "message": "set by the test",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    kube.kubectl(
        "patch",
        kind,
        "w",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"conditions": [condition]}}),
    )
    done = kube.kubectl("wait", "--for=condition=Ready", "--timeout=30s", f"{kind}/w", check=False)
    assert done.returncode == 0, done.stderr
    assert "condition met" in done.stdout


def test_rbac_is_enforced_for_service_account_tokens(kube: Kube, tmp_path: Path) -> None:
    kube.kubectl("create", "serviceaccount", "bot")  # no controller-manager: create it yourself
    token = kube.kubectl("create", "token", "bot", "--duration=10m").stdout.strip()
    config = yaml.safe_load(kube.kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    bot_config = tmp_path / "bot.kubeconfig"
    bot_config.write_text(yaml.safe_dump(config))
    bot = dataclasses.replace(kube, kubeconfig=bot_config)

    identity = bot.kubectl("auth", "whoami", "-o", "json")
    assert json.loads(identity.stdout)["status"]["userInfo"]["username"] == (
        f"system:serviceaccount:{kube.namespace}:bot"
    )
    denied = bot.kubectl("get", "secrets", check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr, denied.stderr
    assert (
        f'cannot list resource "secrets" in API group "" in the namespace "{kube.namespace}"'
        in (denied.stderr)
    )

    kube.kubectl("create", "role", "secret-reader", "--verb=get,list", "--resource=secrets")
    kube.kubectl(
        "create",
        "rolebinding",
        "bot-reads-secrets",
        "--role=secret-reader",
        f"--serviceaccount={kube.namespace}:bot",
    )
    bot.wait_for(
        lambda: bot.kubectl("get", "secrets", "-o", "name").returncode == 0,
        timeout=15,
        describe="the RoleBinding to take effect",
    )
    elsewhere = bot.kubectl("get", "secrets", "-n", "kube-system", namespaced=False, check=False)
    assert elsewhere.returncode != 0 and "Forbidden" in elsewhere.stderr
