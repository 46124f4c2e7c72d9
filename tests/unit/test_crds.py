"""CRDs, the code that reads specs and writes statuses, and the examples must not drift apart."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from atlassian_operator.atlassian import User
from atlassian_operator.core import resources
from atlassian_operator.core.decisions import Action, Blocked, Decision
from atlassian_operator.core.inactivity import InactivityPolicy, LabelSelector
from atlassian_operator.core.mapping import ENTRY_FIELDS
from atlassian_operator.core.snapshot import Observation, OrgSnapshot
from atlassian_operator.core.status import ActionResult, account_status, org_status

ROOT = Path(__file__).resolve().parents[2]


def crd(kind: str) -> dict[str, Any]:
    for path in (ROOT / "crds").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
            return doc  # type: ignore[no-any-return]
    raise AssertionError(f"no CRD for {kind}")


def version(kind: str, name: str = resources.VERSION) -> dict[str, Any]:
    return next(v for v in crd(kind)["spec"]["versions"] if v["name"] == name)  # type: ignore[no-any-return]


def schema(kind: str) -> dict[str, Any]:
    return version(kind)["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def undeclared(value: Any, node: dict[str, Any], path: str = "") -> list[str]:
    """Paths in `value` the structural schema would prune without a word."""
    if isinstance(value, dict):
        props = node.get("properties", {})
        missing = [f"{path}.{k}" for k in value if k not in props]
        return missing + [
            m
            for k, v in value.items()
            if k in props
            for m in undeclared(v, props[k], f"{path}.{k}")
        ]
    if isinstance(value, list):
        return [
            m for i, v in enumerate(value) for m in undeclared(v, node["items"], f"{path}[{i}]")
        ]
    return []


USER = User.model_validate(
    {
        "account_id": "a1",
        "account_type": "atlassian",
        "account_status": "active",
        "name": "Ada",
        "picture": "https://x/p.png",
        "email": "ada@acme.example",
        "access_billable": True,
        "last_active": "2026-11-01T10:00:00Z",
        "product_access": [
            {
                "key": "confluence",
                "name": "Confluence",
                "url": "https://acme.atlassian.net/wiki",
                "last_active": "2026-11-01T10:00:00Z",
            }
        ],
    }
)


def test_every_account_status_field_is_declared_in_the_crd() -> None:
    snapshot = OrgSnapshot("org", [USER], datetime.now(UTC))
    spec = resources.AccountSpec(org_name="acme", account_id="a1")
    status = account_status(
        spec=spec,
        generation=1,
        observation=snapshot.observe(spec, None),
        decision=Decision(action=Action.SUSPEND),
        result=ActionResult(
            Action.SUSPEND, True, "Succeeded", "done", "2026-11-01T10:00:00Z", "kubectl"
        ),
        previous={
            "productAccess": [
                {
                    "product": "Jira (old)",
                    "key": "jira-software",
                    "name": "Jira",
                    "url": "https://old.atlassian.net",
                    "status": "Active",
                }
            ]
        },
        org="org",
        now="2026-11-01T10:00:00Z",
    )
    status["lastSyncTime"] = "2026-11-01T10:00:00Z"
    assert {"activeProducts", "lastAction", "productAccess", "conditions"} <= status.keys()
    assert status["lastAction"]["requestedBy"] == "kubectl"
    assert undeclared(status, schema("AtlassianAccount")["properties"]["status"]) == []
    jsonschema.validate(status, schema("AtlassianAccount")["properties"]["status"])


T = "2026-11-01T10:00:00Z"
OBSERVED = account_status(
    spec=resources.AccountSpec(org_name="acme", account_id="a1"),
    generation=1,
    observation=Observation(USER, "a1"),
    decision=Decision(),
    result=None,
    previous={},
    org="org",
    now=T,
)


@pytest.mark.parametrize(
    ("desired", "observation", "decision", "defers_to"),
    [
        pytest.param(
            resources.DesiredState.SUSPENDED,
            Observation(USER, "a1"),
            Decision(blocked=Blocked("DryRun", "dry run: would suspend", Action.SUSPEND)),
            None,
            id="dry-run",
        ),
        pytest.param(
            None,
            Observation(None, "a1", "a1 resolves to someone else", "IdentityChanged"),
            Decision(),
            None,
            id="identity-changed",
        ),
        pytest.param(
            None, Observation(None, "a1", "no user a1"), Decision(), None, id="deleted-user"
        ),
        pytest.param(None, Observation(USER, "a1"), Decision(), "offboard-ada", id="defers"),
    ],
)
def test_every_account_status_variant_matches_the_crd(
    desired: resources.DesiredState | None,
    observation: Observation,
    decision: Decision,
    defers_to: str | None,
) -> None:
    status = account_status(
        spec=resources.AccountSpec(org_name="acme", account_id="a1", desired_state=desired),
        generation=2,
        observation=observation,
        decision=decision,
        result=None,
        previous=OBSERVED,
        org="org",
        now=T,
        defers_to=defers_to,
    )

    assert undeclared(status, schema("AtlassianAccount")["properties"]["status"]) == []
    jsonschema.validate(status, schema("AtlassianAccount")["properties"]["status"])


def test_a_product_access_entry_requires_what_the_operator_keeps_of_it() -> None:
    """The API server refuses an entry without them (a hand edit, a restore tool); one stored
    before the CRD said so is dropped by the operator, which keeps only complete entries."""
    status = schema("AtlassianAccount")["properties"]["status"]
    entry = status["properties"]["productAccess"]["items"]
    assert sorted(entry["required"]) == sorted(ENTRY_FIELDS)
    complete = {
        "product": "Jira (acme)",
        "key": "jira-software",
        "name": "Jira",
        "status": "Active",
    }
    jsonschema.validate({"productAccess": [complete]}, status)
    for field in ENTRY_FIELDS:
        incomplete = {k: v for k, v in complete.items() if k != field}
        with pytest.raises(jsonschema.ValidationError, match=f"'{field}' is a required property"):
            jsonschema.validate({"productAccess": [complete, incomplete]}, status)


def test_every_org_status_field_is_declared_in_the_crd() -> None:
    snapshot = OrgSnapshot("org", [USER], datetime.now(UTC))
    status = org_status(
        snapshot, generation=1, now="2026-11-01T10:00:00Z", duration=0.5, requests=1, rate_limited=0
    )
    status["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Synced",
            "message": "m",
            "lastTransitionTime": "2026-11-01T10:00:00Z",
            "observedGeneration": 1,
        }
    ]
    # Added by the org's owner once a sync answers the sync-requested annotation.
    status["observedSyncRequest"] = "2026-11-01T09:59:00Z"
    assert undeclared(status, schema("AtlassianOrg")["properties"]["status"]) == []
    jsonschema.validate(status, schema("AtlassianOrg")["properties"]["status"])


@pytest.mark.parametrize(
    ("kind", "reader"),
    [
        pytest.param(
            "AtlassianOrg",
            (
                resources.OrgSpec.from_dict,
                resources.SuspensionPolicy.from_dict,
                InactivityPolicy.from_dict,
                LabelSelector.from_dict,
            ),
            id="org",
        ),
        pytest.param("AtlassianAccount", (resources.AccountSpec.from_dict,), id="account"),
    ],
)
def test_every_spec_field_in_the_crd_is_read_by_the_operator(kind: str, reader: Any) -> None:
    def names(node: dict[str, Any]) -> set[str]:
        props = node.get("properties", {})
        return set(props) | {n for p in props.values() for n in names(p)}

    source = "".join(inspect.getsource(r) for r in reader)
    unread = [n for n in names(schema(kind)["properties"]["spec"]) if f'"{n}"' not in source]
    assert unread == []


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        pytest.param(
            "AtlassianAccount",
            ["Email", "Desired", "Status", "Ready", "Reason", "Last-Active", "Products", "Age"],
            id="accounts",
        ),
        pytest.param(
            "AtlassianOrg",
            ["Org-ID", "Users", "Active", "Suspended", "Reclaimable", "Ready", "Last-Sync", "Age"],
            id="orgs",
        ),
    ],
)
def test_printer_columns_answer_the_design_questions(kind: str, columns: list[str]) -> None:
    printed = version(kind)["additionalPrinterColumns"]
    assert [c["name"] for c in printed if not c.get("priority")] == columns


def example_docs() -> list[Any]:
    docs = []
    for path in sorted((ROOT / "manifests" / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] in ("AtlassianOrg", "AtlassianAccount"):
                docs.append(pytest.param(doc, id=f"{path.stem}-{doc['metadata']['name']}"))
    return docs


@pytest.mark.parametrize("doc", example_docs())
def test_examples_match_the_crd_and_the_operator_reads_them(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, schema(doc["kind"]))
    reader = resources.OrgSpec if doc["kind"] == "AtlassianOrg" else resources.AccountSpec
    reader.from_dict(doc["spec"])  # raises InvalidSpec if the operator could not act on it


def undescribed(node: dict[str, Any], path: str) -> list[str]:
    """Paths of `node` and every schema below it (properties, items) without a description."""
    missing = [] if str(node.get("description", "")).strip() else [path]
    for name, child in node.get("properties", {}).items():
        missing += undescribed(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        missing += undescribed(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        missing += undescribed(node["additionalProperties"], f"{path}{{}}")
    return missing


def test_the_description_walk_finds_nested_properties_and_array_items() -> None:
    node = {
        "description": "root",
        "properties": {
            "a": {"type": "string"},
            "b": {
                "description": "b",
                "type": "array",
                "items": {"properties": {"c": {"description": " "}}},
            },
        },
    }
    assert undescribed(node, "X") == ["X.a", "X.b[]", "X.b[].c"]


@pytest.mark.parametrize("kind", ["AtlassianOrg", "AtlassianAccount"])
def test_every_field_has_a_description_for_kubectl_explain(kind: str) -> None:
    tree = schema(kind)
    assert {"spec", "status"} <= tree["properties"].keys()
    assert undescribed(tree, kind) == []


def sync_interval_schema() -> dict[str, Any]:
    return schema("AtlassianOrg")["properties"]["spec"]["properties"]["syncInterval"]  # type: ignore[no-any-return]


def minimum_rule() -> dict[str, Any]:
    [rule] = [
        r
        for r in sync_interval_schema().get("x-kubernetes-validations", [])
        if "duration(self)" in r["rule"]
    ]
    return rule  # type: ignore[no-any-return]


def test_sync_interval_minimum_is_a_cel_rule_matching_the_operator() -> None:
    rule = minimum_rule()
    [minimum] = re.findall(r"duration\(self\) >= duration\('([^']+)'\)", rule["rule"])
    assert resources.parse_duration(minimum) == resources.MIN_SYNC_INTERVAL_SECONDS
    for message in (rule["message"], rule["messageExpression"]):
        assert "shorter than the minimum 30s" in message
        assert "Atlassian rate-limits the org" in message
    assert "+ self +" in rule["messageExpression"]  # the rejected value is named
    default = sync_interval_schema()["default"]
    assert default == resources.DEFAULT_SYNC_INTERVAL
    assert resources.parse_duration(default) >= resources.MIN_SYNC_INTERVAL_SECONDS


DURATIONS = ["30s", "5m", "1h30m", "1.5h", "500ms", "0.5m", "2h0m0.5s"]
NOT_DURATIONS = ["", "5", "5 minutes", "-30s", "30S", "1d", ".5h", "5m ", "1h-30m", "30us"]


def test_cel_guard_pattern_and_operator_agree_on_what_a_duration_is() -> None:
    """duration() fails on a string Go cannot parse: the rule must skip what the pattern rejects,
    and everything the pattern accepts must be a duration the operator can read."""
    pattern = sync_interval_schema()["pattern"]
    guards = re.findall(r"self\.matches\('([^']+)'\)", minimum_rule()["rule"])
    assert guards, "the minimum rule must only call duration() on strings the pattern accepts"
    for text in DURATIONS:
        assert re.search(pattern, text), text
        assert all(re.search(g, text) for g in guards), text
        resources.parse_duration(text)
    for text in NOT_DURATIONS:
        assert not re.search(pattern, text), text
        assert not all(re.search(g, text) for g in guards), text
        with pytest.raises(resources.InvalidSpec):
            resources.parse_duration(text)


@pytest.mark.parametrize("kind", ["AtlassianOrg", "AtlassianAccount"])
def test_v1beta1_is_stored_and_v1alpha1_is_the_same_api_deprecated(kind: str) -> None:
    """conversion: None is only safe while the versions are the same API: the API server then
    changes apiVersion and nothing else, so no field is ever lost between them."""
    spec = crd(kind)["spec"]
    assert spec["conversion"] == {"strategy": "None"}
    assert resources.VERSION == "v1beta1"
    assert [(v["name"], v["served"], v["storage"]) for v in spec["versions"]] == [
        ("v1beta1", True, True),
        ("v1alpha1", True, False),
    ]
    beta, alpha = spec["versions"]
    assert alpha["deprecated"] is True and "v1beta1" in alpha["deprecationWarning"]
    assert "deprecated" not in beta
    same = ("schema", "subresources", "additionalPrinterColumns")
    assert {k: alpha[k] for k in same} == {k: beta[k] for k in same}
