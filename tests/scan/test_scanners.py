"""Third-party scanners on what users install: checkov and kube-score on every render of
manifests/ and the chart (scan_support.SCANNERS, KUSTOMIZE_RENDERS, HELM_RENDERS), zizmor on the
workflows. A finding fails unless hack/scan/allow.yaml allows it with a reason; an allow-list entry
that no longer matches anything fails too, so the list stays as short as the findings.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from scan_support import (
    ALLOW,
    HELM_RENDERS,
    KUSTOMIZE_RENDERS,
    ROOT,
    SCANNERS,
    Finding,
    ManifestScanner,
    helm_template,
    load_allow_list,
    not_allowed,
    scan,
    scan_renders,
    workflow_files,
    zizmor_findings,
)

RENDERS = [*KUSTOMIZE_RENDERS, *HELM_RENDERS]
WORKFLOWS = workflow_files()


@pytest.fixture(scope="session")
def findings(tools: dict[str, str]) -> dict[tuple[str, str], list[Finding]]:
    """(scanner, render) -> findings, every render scanned by every scanner once."""
    renders = {name: render() for name, render in KUSTOMIZE_RENDERS.items()}
    renders |= {name: helm_template(tools["helm.sh"], *v) for name, v in HELM_RENDERS.items()}
    return {
        (scanner.name, render): found
        for scanner in SCANNERS
        for render, found in scan_renders(scanner, tools[scanner.install], renders).items()
    }


def report(findings: list[Finding], render: str) -> str:
    return "\n".join(f.describe(render) for f in findings)


@pytest.mark.parametrize("render", RENDERS)
@pytest.mark.parametrize("scanner", SCANNERS, ids=[s.name for s in SCANNERS])
def test_no_finding_outside_the_allow_list(
    scanner: ManifestScanner, render: str, findings: dict[tuple[str, str], list[Finding]]
) -> None:
    new = not_allowed(findings[scanner.name, render], load_allow_list())
    assert new == [], "\n" + report(new, render)


def test_zizmor_finds_nothing_in_the_workflows(tools: dict[str, str]) -> None:
    assert ROOT / ".github" / "workflows" / "release.yml" in WORKFLOWS, WORKFLOWS
    found = zizmor_findings(tools["scanners.sh"], *WORKFLOWS)
    new = not_allowed(found, load_allow_list())
    assert new == [], "\n" + report(new, ".github/workflows")


def test_every_allow_list_entry_still_matches_a_finding(
    tools: dict[str, str], findings: dict[tuple[str, str], list[Finding]]
) -> None:
    """An allowed finding that is gone (fixed, or the object renamed) leaves a stale entry that
    would silently allow its return: it must be deleted."""
    everything = [f for found in findings.values() for f in found]
    everything += zizmor_findings(tools["scanners.sh"], *WORKFLOWS)
    stale = [a for a in load_allow_list() if not any(a.covers(f) for f in everything)]
    assert stale == [], f"entries of {ALLOW.relative_to(ROOT)} that match nothing: {stale}"


def test_the_allow_list_is_short_and_gives_reasons() -> None:
    entries = load_allow_list()
    assert len(entries) <= 10, "fix findings in the manifests and chart rather than allow them"
    assert all(len(a.reason.split()) >= 8 for a in entries), "say why each finding is right"


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "allow.yaml"
    bad.write_text(yaml.safe_dump([{"scanner": "checkov", "check": "CKV_K8S_1",
                                    "objects": ["*"], "reason": " "}]))  # fmt: skip
    with pytest.raises(ValueError, match="entry 1: the reason is empty"):
        load_allow_list(bad)


# A Deployment as scanners dislike it: each scanner must report it, or a scanner that silently
# scans nothing (a wrong flag, an unparsed format) would pass every test above.
CARELESS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: careless, namespace: default}
spec:
  selector: {matchLabels: {app: careless}}
  template:
    metadata: {labels: {app: careless}}
    spec:
      containers:
        - name: app
          image: example/app:latest
          securityContext: {privileged: true}
"""


@pytest.mark.parametrize("scanner", SCANNERS, ids=[s.name for s in SCANNERS])
def test_each_scanner_reports_a_careless_deployment(
    scanner: ManifestScanner, tools: dict[str, str]
) -> None:
    found = scan(scanner, tools[scanner.install], CARELESS)
    careless = [f for f in found if f.object == "Deployment/default/careless"]
    assert len(careless) >= 3, found
    new = not_allowed(careless, load_allow_list())
    assert new, "the allow-list must not cover objects that are not ours"
    assert f"{scanner.name} " in new[0].describe("test") and str(ALLOW.name) in new[0].describe("x")


def test_a_workflow_example_outside_github_is_scanned_too(tmp_path: Path) -> None:
    run = lambda *a: subprocess.run(a, cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q")
    recipe = tmp_path / "examples" / "ci" / "validate.yaml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text("on: [pull_request]\njobs:\n  v:\n    runs-on: ubuntu-latest\n"
                      "    steps: [{run: 'true'}]\n")  # fmt: skip
    (tmp_path / "values.yaml").write_text("jobs: {}\n")
    run("git", "add", ".")
    assert workflow_files(tmp_path) == [recipe]


def test_zizmor_reports_an_action_pinned_by_tag(tools: dict[str, str], tmp_path: Path) -> None:
    """The release workflow as it was before its actions were pinned by commit."""
    workflow = tmp_path / "release.yml"
    pinned = "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0"
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert text.count(pinned) >= 2, "the release workflow checks out in each job"
    workflow.write_text(text.replace(pinned, "actions/checkout@v6"))
    found = zizmor_findings(tools["scanners.sh"], workflow)
    assert [f.check for f in found] == ["unpinned-uses"] * text.count(pinned), found
    assert found[0].object == "Workflow/release.yml:jobs.image.steps.0", found
