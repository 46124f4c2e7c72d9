"""Issue 17, item 3: the schema explains and enforces.

`kubectl explain`, against the real API server, prints a description for every field of both
kinds, and the API server itself refuses a syncInterval below the 30 s minimum, with a message
that says why, while accepting the default and every interval the operator can use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:  # at run time `conftest` may name another layer's conftest.py
    from conftest import Kube

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"atlassianorg": "atlassianorgs.yaml", "atlassianaccount": "atlassianaccounts.yaml"}
UNDESCRIBED = ("<no description>", "<empty>")
ACCOUNT_OR_EMAIL = "At least one of accountId and email is required"
TOO_SHORT = (
    "spec.syncInterval: Invalid value: \"string\": syncInterval '{}' is shorter than the "
    "minimum 30s; Atlassian rate-limits the org, so list it at most every 30s"
)
NOT_A_DURATION = (
    "syncInterval must be a duration: numbers with units ms, s, m or h, such as 30s, 5m or 1h30m"
)


def words(text: str) -> str:
    """Text with its line wrapping undone: kubectl explain wraps descriptions at 80 columns."""
    return " ".join(text.split())


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / KINDS[kind]).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def published(kube: Kube, kind: str) -> None:
    """Wait for the API server to publish the schema of crds/: its OpenAPI lags the CRD."""
    description = words(crd_schema(kind)["description"])
    kube.wait_for(
        lambda: description in words(explain(kube, kind)),
        timeout=30,
        describe=f"the API server to publish the schema of {kind} from crds/",
    )


def explain(kube: Kube, path: str, *flags: str) -> str:
    return str(kube.kubectl("explain", path, *flags, namespaced=False).stdout)


def object_paths(recursive: str, prefix: str) -> list[str]:
    """The object (and list of object) fields in the output of `kubectl explain --recursive`."""
    stack: list[str] = []
    found = []
    for line in recursive.split("FIELDS:\n", 1)[1].splitlines():
        match = re.match(r"^( +)(\w+)\t<([^>]+)>", line)
        if not match:
            continue
        depth = len(match[1]) // 2 - 1
        stack[depth:] = [match[2]]
        if match[3] in ("Object", "[]Object"):
            found.append(".".join([prefix, *stack]))
    return found


def crd_object_paths(node: dict[str, Any], path: str) -> list[str]:
    """The same, from crds/: the fields kubectl explain must be able to show the children of."""
    node = node.get("items", node)
    if node.get("type") != "object" or "properties" not in node:
        return []  # kubectl shows a map (additionalProperties) as map[string]string, no fields
    return [path] + [
        p
        for name, child in node["properties"].items()
        for p in crd_object_paths(child, f"{path}.{name}")
    ]


def test_explain_describes_the_account_spec_and_the_identity_rule(kube: Kube, crds: None) -> None:
    published(kube, "atlassianaccount")
    out = explain(kube, "atlassianaccount.spec")
    assert not [u for u in UNDESCRIBED if u in out], out
    for field in ("orgRef", "accountId", "email", "desiredState", "suspensionMessage"):
        assert re.search(rf"^  {field}\t<", out, re.MULTILINE), f"{field} not listed:\n{out}"
    text = words(out)
    assert ACCOUNT_OR_EMAIL in text
    assert "accountId is preferred, because Atlassian hides the email" in text
    assert "pinned in status.accountId" in text
    assert "IdentityChanged" in text


def test_explain_describes_the_org_suspension_policy(kube: Kube, crds: None) -> None:
    published(kube, "atlassianorg")
    out = explain(kube, "atlassianorg.spec.suspension")
    assert not [u for u in UNDESCRIBED if u in out], out
    text = words(out)
    fields = ("dryRun", "maxPerSync", "protectedAccounts", "allowReactivation", "allowAdmins")
    for field in (*fields, "pauseAbove"):
        assert re.search(rf"\b{field}\b <[^>]+> {field} \w", text), f"{field}:\n{out}"
    assert "Defaults to 10" in text
    recursive = explain(kube, "atlassianorg.spec.suspension", "--recursive")
    assert [
        line.split("\t")[0].strip()
        for line in recursive.split("FIELDS:\n")[1].splitlines()
        if line.strip()
    ] == [
        "allowAdmins",
        "allowReactivation",
        "dryRun",
        "maxPerSync",
        "pauseAbove",
        "protectedAccounts",
    ]
    assert not [u for u in UNDESCRIBED if u in recursive], recursive


@pytest.mark.parametrize("kind", list(KINDS))
def test_explain_prints_a_description_for_every_field(kube: Kube, crds: None, kind: str) -> None:
    """--recursive lists the tree; explaining each object shows every field's description."""
    published(kube, kind)
    objects = [kind]
    for part in ("spec", "status"):
        recursive = explain(kube, f"{kind}.{part}", "--recursive")
        assert not [u for u in UNDESCRIBED if u in recursive], recursive
        objects += [f"{kind}.{part}", *object_paths(recursive, f"{kind}.{part}")]
    assert sorted(objects) == sorted(crd_object_paths(crd_schema(kind), kind))
    undescribed = {}
    for path in objects:
        out = explain(kube, path)
        if any(u in out for u in UNDESCRIBED):
            undescribed[path] = out
    assert not undescribed, "\n".join(f"== {p}\n{o}" for p, o in undescribed.items())


def org(interval: str | None) -> str:
    spec: dict[str, Any] = {"orgId": "org-1", "apiKeySecretRef": {"name": "atlassian-api-key"}}
    if interval is not None:
        spec["syncInterval"] = interval
    return yaml.safe_dump(
        {
            "apiVersion": "atlassian.operators.dev/v1beta1",
            "kind": "AtlassianOrg",
            "metadata": {"name": "acme"},
            "spec": spec,
        }
    )


@pytest.mark.parametrize("interval", ["10s", "29s", "29999ms", "0.4m", "500ms", "0s"])
def test_the_api_server_rejects_a_sync_interval_below_30s(
    kube: Kube, crds: None, interval: str
) -> None:
    proc = kube.kubectl("apply", "--dry-run=server", "-f", "-", input=org(interval), check=False)
    assert proc.returncode != 0, proc.stdout
    assert TOO_SHORT.format(interval) in proc.stderr


@pytest.mark.parametrize("interval", ["5 minutes", "30", "-30s", "1d"])
def test_the_api_server_rejects_an_unparsable_sync_interval_clearly(
    kube: Kube, crds: None, interval: str
) -> None:
    proc = kube.kubectl("apply", "--dry-run=server", "-f", "-", input=org(interval), check=False)
    assert proc.returncode != 0, proc.stdout
    assert NOT_A_DURATION in proc.stderr
    assert f'spec.syncInterval: Invalid value: "{interval}"' in proc.stderr  # the pattern
    # The minimum rule is not evaluated on it: duration() would fail with a conversion error.
    assert "shorter than the minimum" not in proc.stderr
    assert "evaluating rule" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("interval", "stored"),
    [
        ("30s", "30s"),
        ("30000ms", "30000ms"),
        ("0.5m", "0.5m"),
        ("5m", "5m"),
        ("1h30m", "1h30m"),
        ("1.5h", "1.5h"),
        (None, "5m"),  # the default
    ],
)
def test_the_api_server_accepts_30s_and_longer_and_the_default(
    kube: Kube, crds: None, interval: str | None, stored: str
) -> None:
    proc = kube.kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", input=org(interval))
    assert json.loads(proc.stdout)["spec"]["syncInterval"] == stored
