"""The monitoring manifests: alert rules that promtool accepts and whose unit tests pass, the
PrometheusRule equal to the plain rule file, and a dashboard and rules that query only metrics the
operator really exports.

promtool is built once by hack/tools/promtool.sh (`make promtool`, which `make test` runs first)
into the same cache as the control plane; a missing promtool fails these tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from atlassian_operator.core.resources import ObjectRef
from atlassian_operator.reconcile.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
RULES = MONITORING / "rules.yaml"
RULES_TEST = MONITORING / "rules_test.yaml"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "dashboard.json"
ALERTS = {
    "AtlassianOrgSyncStale",
    "AtlassianOrgNeverSynced",
    "AtlassianOffboardingStuck",
    "AtlassianAuthFailures",
    "AtlassianOperatorDown",
    "AtlassianOperatorNoLeader",
    "AtlassianMassSuspensionPaused",
}


def promtool() -> str:
    """The path hack/tools/promtool.sh builds to (same version pin, same cache logic)."""
    pins = dict(
        line.split("=", 1)
        for line in (ROOT / "hack" / "tools" / "versions.env").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    version = pins["PROMETHEUS_VERSION"].strip()
    cache = os.environ.get("ATLASSIAN_OPERATOR_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "atlassian-operator"
    )
    path = Path(cache) / "tools" / f"promtool-{version}" / "bin" / "promtool"
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"promtool {version} is not built ({path} is missing): run `make promtool` "
            "(hack/tools/promtool.sh; `make test` does it first)",
            pytrace=False,
        )
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- the alert rules ------------------------------------------------------------------------------


def test_promtool_checks_the_rules() -> None:
    result = run(promtool(), "check", "rules", "--lint=all", "--lint-fatal", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_rule_unit_tests_pass() -> None:
    """rules_test.yaml: stuck offboarding fires after 30m (not at 29m), ProtectedAccount and
    DryRun never; stale and never-synced orgs; key failures; the operator gone."""
    result = run(promtool(), "test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_rule_unit_tests_cover_every_alert() -> None:
    tests = load_yaml(RULES_TEST)["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    assert fired == ALERTS


def test_every_alert_says_what_to_do() -> None:
    rules = [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 100, rule["alert"]


def test_offboarding_alert_excludes_only_the_intended_blocks() -> None:
    rule = next(
        rule
        for group in load_yaml(RULES)["groups"]
        for rule in group["rules"]
        if rule["alert"] == "AtlassianOffboardingStuck"
    )
    assert 'reason!~"ProtectedAccount|DryRun"' in rule["expr"]
    assert rule["for"] == "30m"


def test_prometheus_rule_carries_exactly_the_rule_file() -> None:
    resource = load_yaml(PROMETHEUS_RULE)
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"] == load_yaml(RULES)


def test_kustomization_renders_the_monitoring_objects() -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render manifests/monitoring (kubectl kustomize)"
    result = run(kubectl, "kustomize", str(MONITORING))
    assert result.returncode == 0, result.stderr
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(result.stdout)}
    assert set(objects) == {
        ("ServiceMonitor", "atlassian-operator"),
        ("PrometheusRule", "atlassian-operator"),
        ("ConfigMap", "atlassian-operator-dashboard"),
    }
    monitor = objects[("ServiceMonitor", "atlassian-operator")]
    # Without honorLabels the org's `namespace` label becomes `exported_namespace`.
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "honorLabels": True}
    ]
    service = load_yaml(ROOT / "manifests" / "base" / "service.yaml")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert "metrics" in {port["name"] for port in service["spec"]["ports"]}
    dashboard = objects[("ConfigMap", "atlassian-operator-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["atlassian-operator.json"]) == json.loads(
        DASHBOARD.read_text()
    )


# --- metric names ---------------------------------------------------------------------------------


def exported_metric_names() -> tuple[set[str], set[str]]:
    """(sample names, family names) the operator exports, with one call of each Metrics method."""
    metrics = Metrics()
    ref = ObjectRef(kind="AtlassianOrg", namespace="ops", name="acme", uid="uid-1")
    metrics.response(ref, "list_users", 200)
    metrics.response(ref, "disable", 429)
    metrics.waiting(ref, "list_users", "rate_limited")
    metrics.sync_done(ref, 1.5)
    metrics.sync_failed(ref, "AuthenticationFailed", 0.5)
    metrics.accounts_by_readiness(
        ref, Counter({("False", "SuspensionBudgetExceeded"): 1, ("True", "InDesiredState"): 3})
    )
    metrics.snapshot(ref, {"active": 3, "suspended": 1, "deprovisioned": 0})
    metrics.action(ref, "Suspend", "Succeeded")
    metrics.enrichment_failed(ref, "AtlassianUnavailable")
    metrics.inactivity(
        ref,
        {
            "eligible": 2, "eligibleBillable": 1, "suspended": 0, "warned": 1, "refused": 1,
            "refusedBillable": 1, "keptByIntent": 1, "asOf": "2026-12-06T10:00:00Z",
        },
    )  # fmt: skip
    metrics.unreadable_times(ref, 1)
    metrics.paused(ref, 40)
    families = list(text_string_to_metric_families(generate_latest(metrics.registry).decode()))
    silent = [family.name for family in families if not family.samples]
    assert not silent, f"drive these metrics in exported_metric_names(): {silent}"
    return {s.name for f in families for s in f.samples}, {f.name for f in families}


_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges and subqueries
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = re.findall(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()", expr)
    return {name for name in names if name.lower() not in _KEYWORDS}


def test_metric_name_extraction() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, org) (rate(a_bucket{org=~"x|y", le!="1"}[5m])))'
        " / on (org) group_left (ns) sum(b_total offset 1h) by (org) > bool 1e3"
        " unless absent(c) and time() - d:rec"
    ) == {"a_bucket", "b_total", "c", "d:rec"}


# Grafana's variables, each replaced by a value PromQL accepts.
_GRAFANA_VARIABLES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "namespace": ".*",
    "org": ".*",
}


def dashboard_queries() -> dict[str, str]:
    """Every target expression of the dashboard, by "panel title/refId", variables replaced."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [
        panel
        for top in dashboard["panels"]
        for panel in [top, *top.get("panels", [])]  # a collapsed row keeps its panels
    ]
    queries = {}
    for panel in panels:
        for target in panel.get("targets", []):

            def variable(match: re.Match[str]) -> str:
                name = match.group(1) or match.group(2)
                assert name in _GRAFANA_VARIABLES, f"unknown dashboard variable ${name}"
                return _GRAFANA_VARIABLES[name]

            expr = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", variable, target["expr"])
            queries[f"{panel['title']}/{target['refId']}"] = expr
    return queries


def test_dashboard_queries_only_exported_metrics() -> None:
    samples, families = exported_metric_names()
    queries = dashboard_queries()
    assert len(queries) >= 10
    for where, expr in queries.items():
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        unknown = names - samples
        assert not unknown, f"{where}: {sorted(unknown)} not exported (exported: {sorted(samples)})"
    used = set().union(*map(metric_names, queries.values()))
    unshown = {f for f in families if not any(n == f or n.startswith(f + "_") for n in used)}
    assert not unshown, f"add a panel for {sorted(unshown)} to {DASHBOARD.name}"


def test_rules_query_only_exported_metrics() -> None:
    samples, _ = exported_metric_names()
    for group in load_yaml(RULES)["groups"]:
        for rule in group["rules"]:
            names = metric_names(rule["expr"])
            assert names, rule["alert"]
            assert names <= samples, f"{rule['alert']}: {sorted(names - samples)} not exported"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses every dashboard query (as a recording rule)."""
    queries = dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, expr in enumerate(queries.values())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = run(promtool(), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + "\n".join(queries)


def test_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["refId"] and target["expr"]
